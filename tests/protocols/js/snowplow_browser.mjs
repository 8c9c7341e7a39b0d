// The Snowplow browser tracker (@snowplow/browser-tracker's UMD bundle) in Debian's Chromium
// (playwright-core, no browser download), on a page of another origin than the collector, so
// its credentialed cross-origin POSTs go through CORS exactly as on a real site.
// Usage: node snowplow_browser.mjs <collector base url> <marker>
// Prints one JSON line: {"sent": [<payload of each event the tracker says was delivered>],
// "failed": [...], "errors": [...], "requests": ["POST /com.snowplowanalytics.snowplow/tp2", "GET /i", ...]}.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const [collector, marker] = process.argv.slice(2);
const here = dirname(fileURLToPath(import.meta.url));
const bundle = readFileSync(join(here, "node_modules/@snowplow/browser-tracker/dist/index.umd.js"));
const EXPECTED = 5;
const page = `<!doctype html><html><head><title>${marker}</title><script src="/sp.js"></script></head><body><script>
  const sp = window.snowplowBrowserTracking;
  window.sent = []; window.failed = [];
  sp.newTracker("sp", ${JSON.stringify(collector)}, {
    appId: "shop-web", platform: "web", eventMethod: "post", bufferSize: 1, retryFailedRequests: false,
    onRequestSuccess: (events) => window.sent.push(...events),
    onRequestFailure: (failure) => window.failed.push({ status: failure.status, message: failure.message }),
  });
  sp.setUserId("u-1");
  const user = (email) => ({ schema: "iglu:com.acme.web/user/jsonschema/1-0-0", data: { user_id: "u-1", email } });
  const click = (url) => ({ schema: "iglu:com.acme.web/link_click/jsonschema/1-0-0", data: { target_url: url, element_id: ${JSON.stringify(marker)} } });
  sp.trackPageView({}, ["sp"]);
  sp.trackSelfDescribingEvent({ event: click("https://acme.example/buy"), context: [user("ada@acme.example")] }, ["sp"]);
  sp.trackSelfDescribingEvent({ event: click("https://acme.example/buy"), context: [user("not-an-email")] }, ["sp"]);
  sp.trackStructEvent({ category: "checkout", action: "add-to-basket", label: ${JSON.stringify(marker)}, value: 2 }, ["sp"]);
  // a second tracker sends with GET: the pixel endpoint, /i
  sp.newTracker("pixel", ${JSON.stringify(collector)}, {
    appId: "shop-web", platform: "web", eventMethod: "get", retryFailedRequests: false, contexts: { webPage: false },
    onRequestSuccess: (events) => window.sent.push(...events),
    onRequestFailure: (failure) => window.failed.push({ status: failure.status, message: failure.message }),
  });
  sp.trackStructEvent({ category: "pixel", action: "view", label: ${JSON.stringify(marker)} }, ["pixel"]);
</script></body></html>`;

const server = createServer((req, res) => {
  if (req.url === "/sp.js") { res.writeHead(200, { "content-type": "text/javascript" }); res.end(bundle); return; }
  res.writeHead(200, { "content-type": "text/html" }); res.end(page);
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const site = `http://localhost:${server.address().port}`;  // another origin than http://127.0.0.1:<collector>

const profile = mkdtempSync(join(tmpdir(), "charter-sp-chromium-"));
const errors = [];
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
try {
  const tab = await context.newPage();
  tab.on("pageerror", (e) => errors.push(String(e)));
  tab.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  const requests = [];
  tab.on("request", (r) => { if (r.url().startsWith(collector)) requests.push(`${r.method()} ${new URL(r.url()).pathname}`); });
  await tab.goto(`${site}/shop`, { waitUntil: "load" });
  await tab.waitForFunction((n) => window.sent.length + window.failed.length >= n, EXPECTED, { timeout: 20000, polling: 100 });
  const out = await tab.evaluate(() => ({ sent: window.sent, failed: window.failed }));
  process.stdout.write(JSON.stringify({ ...out, site, errors, requests }) + "\n");
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  server.close();
}

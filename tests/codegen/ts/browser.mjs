// Loads the test page in Debian's headless Chromium (playwright-core drives it; no downloaded browser, and
// launch() gives it a fresh temporary profile), waits for its events to be flushed, takes a screenshot,
// then navigates away so the page-hide beacon fires.
// Usage: node browser.mjs <page URL> <screenshot path>; prints the page's result as JSON.
import { chromium } from "playwright-core";

const [pageUrl, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  timeout: 30_000,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const logs = [];
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 360 } });
  page.on("console", (m) => logs.push(`console.${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => logs.push(`pageerror: ${e.message}`));
  page.on("requestfailed", (r) => logs.push(`requestfailed: ${r.url()} ${r.failure()?.errorText}`));
  await page.goto(pageUrl);
  await page.waitForFunction(() => window.charterResult !== undefined, null, { timeout: 20_000 });
  const result = await page.evaluate(() => window.charterResult);
  await page.screenshot({ path: screenshot });
  // Leaving fires pagehide: the queued event must leave by sendBeacon. The next page, on the same
  // origin, reads what the instrumented sendBeacon noted in localStorage.
  await page.goto(new URL("after.html", pageUrl).href);
  const beacons = await page.evaluate(() => JSON.parse(localStorage.getItem("charter-beacons") ?? "[]"));
  process.stdout.write(JSON.stringify({ ...result, beacons, logs }));
} catch (error) {
  process.stderr.write(`${error}\n${logs.join("\n")}\n`);
  process.exitCode = 1;
} finally {
  await browser.close();
}

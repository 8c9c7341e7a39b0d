// Drive the HTML catalog in Debian's Chromium with playwright-core (no browser download).
// Usage: node docs_browser.mjs <url> <screenshot.png> '<json list of search queries>'
// Prints one JSON object: the contracts listed on load, and for each query the ids still
// visible, the count line and the nav entries still shown; plus any page errors.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [url, screenshot, queriesJson] = process.argv.slice(2);
const queries = JSON.parse(queriesJson);
const profile = mkdtempSync(join(tmpdir(), "charter-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  viewport: { width: 1280, height: 900 },
});
const errors = [];
try {
  const page = await context.newPage();
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  await page.goto(url, { waitUntil: "load" });
  const visible = () => page.$$eval("article.contract", (els) => els.filter((e) => !e.hidden).map((e) => e.id));
  const nav = () => page.$$eval("#index li[data-contract]", (els) => els.filter((e) => !e.hidden).map((e) => e.dataset.contract));
  const count = () => page.textContent("#count");
  const result = { listed: await visible(), nav: await nav(), count: await count(), searches: {}, errors };
  for (const q of queries) {
    await page.fill("#search", "");
    await page.type("#search", q);  // real key presses: the page reacts to input events
    result.searches[q] = { visible: await visible(), nav: await nav(), count: await count(),
      empty: await page.isVisible("#empty") };
  }
  await page.fill("#search", queries.length ? queries[0] : "");
  await page.screenshot({ path: screenshot, fullPage: false });
  console.log(JSON.stringify(result));
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}

// Drive the /ui dashboard in Debian's Chromium with playwright-core (no browser download).
// Usage: node dashboard_browser.mjs <collector base url> <artifact dir>
// Talks to the pytest process over stdio, one JSON line per phase:
//   1. loads /ui before any event, prints {"phase": "empty", ...}, then waits for a line on stdin
//      (pytest posts the events meanwhile: the page must pick them up by itself, no reload);
//   2. that line is what pytest sent ({"received": N, "drill_id": id}); waits
//      (polling the DOM, bounded) until the page shows N received, reads every contract card,
//      opens one bad record (the drill-down), the duplicates view and the payment contract in
//      the browser panel, prints {"phase": "done", ...}.
// Page errors, console errors and requests to any other origin are reported, not thrown.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const [base, artifacts] = process.argv.slice(2);
const PAYMENT = "com.acme.shop/payment/1.0.0";
const WAIT_MS = 15000;
const profile = mkdtempSync(join(tmpdir(), "charter-ui-chromium-"));
const stdin = createInterface({ input: process.stdin });
// resolves on pytest's line, or when pytest closes stdin (so a crashed test never leaves us waiting)
const nextLine = () => new Promise((resolve) => { stdin.once("line", resolve); stdin.once("close", resolve); });
const print = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  viewport: { width: 1440, height: 900 },
});
const errors = [];
const foreign = [];
const origin = new URL(base).origin;
try {
  const page = await context.newPage();
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("response", (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });
  page.on("request", (r) => { if (new URL(r.url()).origin !== origin) foreign.push(r.url()); });

  await page.goto(`${base}/ui?refresh=300`, { waitUntil: "load" });
  await page.getByTestId("empty-state").waitFor({ timeout: WAIT_MS });
  await page.getByTestId("contract-link").first().waitFor({ timeout: WAIT_MS });
  await page.screenshot({ path: join(artifacts, "dashboard-empty.png"), fullPage: true });
  print({ phase: "empty", empty: await page.getByTestId("empty-state").textContent(),
    links: await page.getByTestId("contract-link").evaluateAll((els) => els.map((e) => e.dataset.schema)),
    errors: [...errors] });

  // pytest has posted the events; its line says what the page must show
  const expected = JSON.parse((await nextLine()) ?? "{}");
  await page.waitForFunction((want) => document.querySelector('[data-testid="totals-received"]')?.textContent === want,
    String(expected.received), { timeout: WAIT_MS, polling: 100 });

  const readCards = () => page.getByTestId("contract-card").evaluateAll((els) => els.map((card) => {
    const text = (id) => card.querySelector(`[data-testid="${id}"]`)?.textContent ?? null;
    return {
      schema: card.dataset.schema, received: text("count-received"), good: text("count-good"), rejected: text("count-rejected"),
      duplicates: text("count-duplicates"), last_minute: text("last-minute"),
      chart: Object.fromEntries(["good", "rejected", "duplicates"].map((k) => [k,
        card.querySelectorAll(`[data-testid="chart"] rect[data-bucket="${k}"]`).length])),
      top_errors: [...card.querySelectorAll('[data-testid="error-type"]')].map((e) => e.dataset.type),
      groups: [...card.querySelectorAll('[data-testid="group"]')].map((g) => ({
        type: g.dataset.type, path: g.dataset.path, count: g.querySelector('[data-testid="group-count"]').textContent,
        window: g.querySelector('[data-testid="group-window"]').textContent,
        trend: g.querySelector('[data-testid="group-trend"]').getAttribute("aria-label"),
        message: g.querySelector('[data-testid="group-message"]').textContent,
      })),
      events: [...card.querySelectorAll('[data-testid="event"]')].map((ev) => ({
        id: ev.querySelector('[data-testid="event-id"]').textContent, type: ev.querySelector('[data-testid="event-type"]').textContent,
        excerpt: ev.querySelector('[data-testid="violation-excerpt"]').textContent,
        failures: [...ev.querySelectorAll('[data-testid="violation"]')].map((row) => ({
          path: row.querySelector('[data-testid="violation-path"]').textContent,
          keyword: row.querySelector('[data-testid="violation-keyword"]').textContent,
          message: row.querySelector('[data-testid="violation-message"]').textContent,
        })),
      })),
    };
  }));
  const cards = await readCards();
  const totals = Object.fromEntries(await Promise.all(["received", "good", "rejected", "duplicates"].map(
    async (k) => [k, await page.getByTestId(`totals-${k}`).textContent()])));
  const since = await page.getByTestId("since").textContent();
  const visibleText = await page.locator("body").innerText();
  await page.screenshot({ path: join(artifacts, "dashboard.png"), fullPage: true });

  // drill-down: the payment event with two failures, its full bad record
  const card = page.locator(`[data-testid="contract-card"][data-schema="${PAYMENT}"]`);
  await card.locator(`[data-testid="event"][data-id="${expected.drill_id}"] [data-testid="open-record"]`).click();
  await page.getByTestId("record-json").waitFor({ timeout: WAIT_MS });
  const record = {
    title: await page.getByTestId("record-title").textContent(),
    protection: await page.getByTestId("record-protection").textContent(),
    protected: await page.getByTestId("protected-value").evaluateAll((els) => els.map((e) => ({
      path: e.dataset.path, action: e.dataset.action, badge: e.querySelector(".pii").textContent, text: e.textContent }))),
    text: await page.getByTestId("record").innerText(),
  };
  await page.screenshot({ path: join(artifacts, "dashboard-record.png") });
  await page.getByTestId("record-close").click();
  await page.getByTestId("record").waitFor({ state: "hidden", timeout: WAIT_MS });

  // duplicates have their own view
  await page.getByTestId("tab-duplicates").click();
  await page.getByTestId("duplicate-card").first().waitFor({ timeout: WAIT_MS });
  const duplicates = {
    tab: await page.getByTestId("tab-duplicates").textContent(),
    cards: await page.getByTestId("duplicate-card").evaluateAll((els) => els.map((c) => ({
      schema: c.dataset.schema, count: c.querySelector('[data-testid="dup-count"]').textContent,
      events: [...c.querySelectorAll('[data-testid="event"]')].map((e) => e.querySelector('[data-testid="event-type"]').textContent),
    }))),
    contract_cards: await page.getByTestId("contract-card").count(),
  };
  await page.screenshot({ path: join(artifacts, "dashboard-duplicates.png"), fullPage: true });
  await page.getByTestId("tab-violations").click();
  await page.getByTestId("contract-card").first().waitFor({ timeout: WAIT_MS });
  const violationsAgain = (await page.getByTestId("duplicate-card").count()) === 0;

  await page.locator(`[data-testid="contract-link"][data-schema="${PAYMENT}"]`).click();
  const ccRow = page.locator('[data-testid="field"][data-field="cc_number"]');
  await ccRow.waitFor({ timeout: WAIT_MS });
  const browser = {
    title: await page.getByTestId("browser-title").textContent(),
    owner: await page.getByTestId("browser-owner").textContent(),
    topic: await page.getByTestId("browser-topic").textContent(),
    dlq: await page.getByTestId("browser-dlq").textContent(),
    cc_number: {
      type: await ccRow.getByTestId("field-type").textContent(),
      pii: await ccRow.getByTestId("pii-tag").textContent(),
      pii_visible: await ccRow.getByTestId("pii-tag").isVisible(),
      classification: await ccRow.getByTestId("pii-class").textContent(),
    },
    fields: await page.getByTestId("field").evaluateAll((els) => els.map((e) => e.dataset.field)),
    rules: await page.getByTestId("rule").evaluateAll((els) => els.map((e) => e.dataset.rule)),
    text: await page.getByTestId("browser").innerText(),
  };
  print({
    phase: "done", cards, totals, since, record, duplicates, violations_again: violationsAgain, browser, visible_text: visibleText,
    injected: await page.locator('[data-testid="injected"]').count(),
    title: await page.title(), errors, foreign,
  });
} catch (e) {
  const page = context.pages()[0];
  if (page) await page.screenshot({ path: join(artifacts, "dashboard-failure.png"), fullPage: true }).catch(() => {});
  print({ phase: "failed", error: String(e), errors, foreign,
    visible_text: page ? await page.locator("body").innerText().catch(() => "") : "" });
  process.exitCode = 1;
} finally {
  stdin.close();
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}

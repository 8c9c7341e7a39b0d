// Drive the /ui dashboard in Debian's Chromium with playwright-core (no browser download).
// Usage: node dashboard_browser.mjs <collector base url> <artifact dir>
// Talks to the pytest process over stdio, one JSON line per phase:
//   1. loads /ui before any event, prints {"phase": "empty", ...}, then waits for a line on stdin
//      (pytest posts the events meanwhile: the page must pick them up by itself, no reload);
//   2. waits (polling the DOM, bounded) for the payment counts, reads every contract card,
//      opens the payment contract in the browser panel, prints {"phase": "done", ...}.
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

  await nextLine();  // pytest has posted the events
  await page.waitForFunction(({ ref }) => {
    const card = document.querySelector(`[data-testid="contract-card"][data-schema="${ref}"]`);
    return card && card.querySelector('[data-testid="count-good"]').textContent === "3"
      && card.querySelector('[data-testid="count-bad"]').textContent === "1"
      && document.querySelectorAll('[data-testid="contract-card"]').length >= 2;
  }, { ref: PAYMENT }, { timeout: WAIT_MS, polling: 100 });

  const cards = await page.getByTestId("contract-card").evaluateAll((els) => els.map((card) => {
    const text = (id) => card.querySelector(`[data-testid="${id}"]`)?.textContent ?? null;
    return {
      schema: card.dataset.schema, good: text("count-good"), bad: text("count-bad"), duplicates: text("count-duplicates"),
      chart_bars: card.querySelectorAll('[data-testid="chart"] rect.g, [data-testid="chart"] rect.b').length,
      top_errors: [...card.querySelectorAll('[data-testid="error-type"]')].map((e) => e.dataset.type),
      violations: [...card.querySelectorAll('[data-testid="violation"]')].map((row, i) => ({
        type: row.querySelector('[data-testid="violation-type"]').textContent,
        path: row.querySelector('[data-testid="violation-path"]').textContent,
        keyword: row.querySelector('[data-testid="violation-keyword"]').textContent,
        message: row.querySelector('[data-testid="violation-message"]').textContent,
        excerpt: card.querySelectorAll('[data-testid="violation-excerpt"]')[i].textContent,
      })),
    };
  }));
  const visibleText = await page.locator("body").innerText();

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
  await page.screenshot({ path: join(artifacts, "dashboard.png"), fullPage: true });
  print({
    phase: "done", cards, browser, visible_text: visibleText,
    totals: { good: await page.getByTestId("totals-good").textContent(), bad: await page.getByTestId("totals-bad").textContent() },
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

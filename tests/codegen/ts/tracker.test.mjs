// The tracker's delivery rules against a scripted fake collector (node:http on loopback).
// Run by tests/codegen/test_typescript_sdk.py: CHARTER_SDK=<built dist/index.js> node --test tracker.test.mjs
import assert from "node:assert/strict";
import http from "node:http";
import { test } from "node:test";
import { pathToFileURL } from "node:url";

const { Tracker } = await import(pathToFileURL(process.env.CHARTER_SDK).href);

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A collector that answers the scripted responses in turn (then 200) and records every request. */
async function fakeCollector(script = []) {
  const requests = [];
  const waiting = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      const events = JSON.parse(body);
      requests.push({ at: Date.now(), events, bytes: Buffer.byteLength(body), headers: req.headers, url: req.url });
      const step = script.shift() ?? { status: 200 };
      res.writeHead(step.status, { "Content-Type": "application/json", ...step.headers });
      res.end(JSON.stringify(step.body ?? { accepted: events.length, rejected: 0 }));
      for (const w of waiting.filter((w) => requests.length >= w.n)) w.resolve();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${server.address().port}`,
    requests,
    /** Resolves once n requests have arrived. */
    received(n) {
      return requests.length >= n ? Promise.resolve() : new Promise((resolve) => waiting.push({ n, resolve }));
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

function payment(orderId) {
  return {
    order_id: orderId,
    product_id: 7,
    amount: 9.5,
    confirmation_code: "AB12CD34",
    cc_number: "4111111111111111",
    ts: "2026-11-21T10:00:00Z",
  };
}

const ids = (request) => request.events.map((e) => e.id);

test("every event gets a UUIDv7 id and an RFC 3339 sent_at, and is POSTed as JSON to /v1/events", async () => {
  const collector = await fakeCollector();
  const tracker = new Tracker({ endpoint: `${collector.endpoint}/` });
  const id = tracker.track("com.acme.shop/payment/1", payment(1));
  await tracker.flush();
  await collector.close();
  const [request] = collector.requests;
  assert.match(id, UUID_V7);
  assert.equal(request.headers["content-type"], "application/json");
  const [event] = request.events;
  assert.deepEqual(Object.keys(event).sort(), ["data", "id", "schema", "sent_at"]);
  assert.equal(event.id, id);
  assert.equal(event.schema, "com.acme.shop/payment/1");
  assert.deepEqual(event.data, payment(1));
  assert.ok(Math.abs(Date.parse(event.sent_at) - Date.now()) < 60_000);
});

test("batches hold at most batchSize events, in the order tracked", async () => {
  const collector = await fakeCollector();
  const tracker = new Tracker({ endpoint: collector.endpoint, batchSize: 2, flushIntervalMs: 60_000 });
  const sent = [1, 2, 3, 4, 5].map((n) => tracker.track("com.acme.shop/payment/1", payment(n)));
  await tracker.flush();
  await collector.close();
  assert.deepEqual(collector.requests.map((r) => r.events.length), [2, 2, 1]);
  assert.deepEqual(collector.requests.flatMap(ids), sent);
});

test("batches stay under maxBytes", async () => {
  const collector = await fakeCollector();
  const tracker = new Tracker({ endpoint: collector.endpoint, maxBytes: 700, flushIntervalMs: 60_000 });
  for (let n = 1; n <= 6; n++) tracker.track("com.acme.shop/payment/1", payment(n));
  await tracker.flush();
  await collector.close();
  assert.ok(collector.requests.length >= 3, `${collector.requests.length} requests`);
  for (const r of collector.requests) assert.ok(r.bytes <= 700, `a ${r.bytes}-byte batch`);
  assert.equal(collector.requests.flatMap(ids).length, 6);
});

test("queued events are sent after flushIntervalMs without a flush() call", async () => {
  const collector = await fakeCollector();
  const tracker = new Tracker({ endpoint: collector.endpoint, flushIntervalMs: 10 });
  const id = tracker.track("com.acme.shop/payment/1", payment(1));
  await collector.received(1);
  await tracker.close();
  await collector.close();
  assert.deepEqual(ids(collector.requests[0]), [id]);
});

test("503 and 429 are retried with the same ids until accepted, and nothing is reported", async () => {
  const collector = await fakeCollector([
    { status: 503, headers: { "Retry-After": "0" } },
    { status: 429, headers: { "Retry-After": "0" } },
  ]);
  const failures = [];
  const tracker = new Tracker({ endpoint: collector.endpoint, retryBaseMs: 1, onFailure: (f) => failures.push(f) });
  const sent = [tracker.track("com.acme.shop/payment/1", payment(1)), tracker.track("com.acme.shop/payment/1", payment(2))];
  await tracker.flush();
  await collector.close();
  assert.equal(collector.requests.length, 3);
  for (const r of collector.requests) assert.deepEqual(ids(r), sent);
  assert.deepEqual(failures, []);
});

test("a retry waits at least the collector's Retry-After", async () => {
  const collector = await fakeCollector([{ status: 503, headers: { "Retry-After": "1" } }]);
  const tracker = new Tracker({ endpoint: collector.endpoint, retryBaseMs: 1 });
  tracker.track("com.acme.shop/payment/1", payment(1));
  await tracker.flush();
  await collector.close();
  const [first, second] = collector.requests;
  assert.ok(second.at - first.at >= 990, `retried after ${second.at - first.at} ms`);
});

test("400 is not retried: the batch is reported as refused", async () => {
  const collector = await fakeCollector([{ status: 400, body: { error: { type: "malformed_body" } } }]);
  const failures = [];
  const tracker = new Tracker({ endpoint: collector.endpoint, retryBaseMs: 1, onFailure: (f) => failures.push(f) });
  const id = tracker.track("com.acme.shop/payment/1", payment(1));
  await tracker.flush();
  await collector.close();
  assert.equal(collector.requests.length, 1);
  assert.equal(failures.length, 1);
  assert.equal(failures[0].reason, "refused");
  assert.equal(failures[0].status, 400);
  assert.deepEqual(failures[0].events.map((e) => e.id), [id]);
});

test("a 207 reports exactly the rejected events with the collector's errors, and is not retried", async () => {
  const script = [{ status: 207, body: { accepted: 1, rejected: 1, errors: [] } }];
  const collector = await fakeCollector(script);
  const failures = [];
  const tracker = new Tracker({ endpoint: collector.endpoint, onFailure: (f) => failures.push(f) });
  tracker.track("com.acme.shop/payment/1", payment(1));
  const bad = tracker.track("com.acme.shop/payment/1", payment(2));
  script[0].body.errors.push({ index: 1, id: bad, type: "invalid_payload", failures: [] });
  await tracker.flush();
  await collector.close();
  assert.equal(collector.requests.length, 1);
  assert.equal(failures.length, 1);
  assert.equal(failures[0].reason, "rejected");
  assert.equal(failures[0].status, 207);
  assert.deepEqual(failures[0].events.map((e) => e.id), [bad]);
  assert.equal(failures[0].errors[0].type, "invalid_payload");
});

test("network errors are retried maxRetries times, then reported; flush() still resolves", async () => {
  const collector = await fakeCollector();
  const endpoint = collector.endpoint;
  await collector.close(); // nothing listens there any more: every attempt is refused
  const failures = [];
  const tracker = new Tracker({ endpoint, maxRetries: 2, retryBaseMs: 1, onFailure: (f) => failures.push(f) });
  const id = tracker.track("com.acme.shop/payment/1", payment(1));
  await tracker.flush();
  assert.equal(failures.length, 1);
  assert.equal(failures[0].reason, "retries_exhausted");
  assert.match(failures[0].message, /after 3 attempts: network error/);
  assert.deepEqual(failures[0].events.map((e) => e.id), [id]);
});

test("the queue is bounded: events past maxQueue are dropped and each drop is reported", async () => {
  const collector = await fakeCollector();
  const failures = [];
  const tracker = new Tracker({
    endpoint: collector.endpoint, maxQueue: 3, flushIntervalMs: 60_000, onFailure: (f) => failures.push(f),
  });
  const results = [1, 2, 3, 4, 5].map((n) => tracker.track("com.acme.shop/payment/1", payment(n)));
  await tracker.flush();
  await collector.close();
  assert.deepEqual(results.map((id) => id === undefined), [false, false, false, true, true]);
  assert.deepEqual(failures.map((f) => [f.reason, f.events[0].data.order_id]), [["queue_full", 4], ["queue_full", 5]]);
  assert.equal(collector.requests.flatMap(ids).length, 3);
});

test("nothing reaches the host app: unserializable data, a throwing onFailure, track() after close()", async () => {
  const collector = await fakeCollector();
  const reasons = [];
  const tracker = new Tracker({
    endpoint: collector.endpoint,
    onFailure: (f) => {
      reasons.push(f.reason);
      throw new Error("a broken host callback");
    },
  });
  const cyclic = payment(1);
  cyclic.self = cyclic;
  assert.equal(tracker.track("com.acme.shop/payment/1", cyclic), undefined);
  await tracker.close();
  assert.equal(tracker.track("com.acme.shop/payment/1", payment(2)), undefined);
  await collector.close();
  assert.deepEqual(reasons, ["unserializable", "closed"]);
  assert.equal(collector.requests.length, 0);
});

test("an endpoint's query string (a write key as ?key=) is kept after /v1/events", async () => {
  const collector = await fakeCollector();
  const tracker = new Tracker({ endpoint: `${collector.endpoint}/?key=wk_123` });
  tracker.track("com.acme.shop/payment/1", payment(1));
  await tracker.flush();
  await collector.received(1);
  assert.equal(collector.requests[0].url, "/v1/events?key=wk_123");
  await tracker.close();
  await collector.close();
});

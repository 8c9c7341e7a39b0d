// @segment/analytics-node, Segment's official Node.js library, sends to Charter's /v1/batch.
// Usage: node segment_node.mjs <collector base url> <write key> <marker>
// Prints one JSON line: {"ids": {"<name>": "<messageId>"}, "errors": [...]}.
import { Analytics } from "@segment/analytics-node";

const [host, writeKey, marker] = process.argv.slice(2);
const analytics = new Analytics({ writeKey, host, maxEventsInBatch: 10, flushInterval: 200, maxRetries: 0 });
const errors = [];
analytics.on("error", (e) => errors.push(String(e?.reason ?? e?.message ?? e)));
const ids = {};
const sent = (name) => (err, ctx) => { if (err) errors.push(String(err)); else ids[name] = ctx.event.messageId; };
analytics.track({ userId: "u-1", event: "Order Completed",
  properties: { order_id: marker, revenue: 42.5, currency: "EUR" } }, sent("order"));
analytics.track({ userId: "u-1", event: "Order Completed",
  properties: { order_id: marker, revenue: -1, currency: "EUR" } }, sent("bad_order"));
analytics.identify({ userId: "u-1", traits: { email: "ada@acme.example", plan: "pro" } }, sent("identify"));
analytics.track({ anonymousId: "a-1", event: "Coupon Applied", properties: { coupon: marker } }, sent("unplanned"));
await analytics.closeAndFlush({ timeout: 20000 });
process.stdout.write(JSON.stringify({ ids, errors }) + "\n");

// Sends events through the built SDK to a real collector from Node, then prints what it did as JSON.
// Usage: CHARTER_SDK=<built dist/index.js> node send.mjs <collector URL>
import { pathToFileURL } from "node:url";

const { Tracker } = await import(pathToFileURL(process.env.CHARTER_SDK).href);
const endpoint = process.argv[2];
const failures = [];
const tracker = new Tracker({ endpoint, batchSize: 3, maxRetries: 1, onFailure: (f) => failures.push(f) });
const now = "2026-11-21T10:00:00Z";

const sent = {
  payment: tracker.track("com.acme.shop/payment/1", {
    order_id: 1001, product_id: 7, amount: 9.5, currency: "EUR", confirmation_code: "AB12CD34",
    cc_number: "4111111111111111", ts: now,
  }),
  order: tracker.track("com.acme.shop/order/1", {
    orderid: 1, orderdate: now, customerid: 2, customername: "Ada",
    items: [{ orderitemid: 1, productid: 7, brand: "Acme", quantity: 2, price: 950 }],
  }),
  message: tracker.track("com.datingapp.interactions/messages/1", {
    user_id: "u1", subject_id: "u2", message_text: "hi", status: "unread", cloudinary_url: null,
    length_seconds: null, created_at: now, updated_at: now,
  }),
  clickstream: tracker.track("com.riverhotels.web/clickstream/1", {
    clickstream_id: "0b9c5c1e-2f43-4a8e-9d3f-6f1c2b7a8e90", customer_email: "ada@example.com", hotel_id: "H00042",
    action: "page-view", event_duration: 12, url: "https://riverhotels.example/h/H00042", created_at: now,
    referrer: null,
  }),
  objectImages: tracker.track("org.metmuseum.collection/object_images/1", {
    object_id: 437133, primary_image: "https://images.metmuseum.org/1.jpg", additional_images: [], created_at: now,
  }),
};
// Plain JavaScript has no compiler to stop this one: the collector rejects it (207) and the tracker reports it.
const invalid = tracker.track("com.acme.shop/payment/1", {
  order_id: 0, product_id: 7, amount: 9.5, confirmation_code: "AB12CD34", cc_number: "4111111111111111", ts: now,
});
await tracker.close();

process.stdout.write(JSON.stringify({ sent, invalid, failures }));

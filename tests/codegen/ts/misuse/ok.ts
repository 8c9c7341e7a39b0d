// Control: correct use of the SDK compiles, so the misuse files fail for their own reasons.
import { Tracker, type EventData, type MessagesV1, type SchemaRef, type TrackerFailure } from "charter-events";

const failures: TrackerFailure[] = [];
const tracker = new Tracker({ endpoint: "http://localhost:8080", onFailure: (f) => failures.push(f) });
tracker.track("com.acme.shop/payment/1", {
  order_id: 1001,
  product_id: 7,
  amount: 9.5,
  currency: "EUR",
  confirmation_code: "AB12CD34",
  cc_number: "4111111111111111",
  ts: "2026-11-21T10:00:00Z",
});
const message: MessagesV1 = {
  user_id: "u1",
  subject_id: "u2",
  message_text: "hi",
  status: "unread",
  cloudinary_url: null,
  created_at: "2026-11-21T10:00:00Z",
  updated_at: "2026-11-21T10:00:00Z",
};
tracker.track("com.datingapp.interactions/messages/1", message);
tracker.track("com.acme.shop/order/1", {
  orderid: 1,
  orderdate: "2026-11-21T10:00:00Z",
  customerid: 2,
  customername: "Ada",
  items: [{ orderitemid: 1, productid: 7, quantity: 1, price: 950 }],
});
// a function of the app's own passes a reference and its data through, as the README shows
function send<S extends SchemaRef>(schema: S, data: EventData<S>): string | undefined {
  return tracker.track(schema, data);
}
send("com.datingapp.interactions/messages/1", message);
await tracker.close();

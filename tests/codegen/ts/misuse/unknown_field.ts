// The contract forbids fields it does not name (additionalProperties: false).
import { Tracker } from "charter-events";

const tracker = new Tracker({ endpoint: "http://localhost:8080" });
tracker.track("com.acme.shop/payment/1", {
  order_id: 1001,
  product_id: 7,
  amount: 9.5,
  confirmation_code: "AB12CD34",
  cc_number: "4111111111111111",
  ts: "2026-11-21T10:00:00Z",
  coupon: "SPRING",
});

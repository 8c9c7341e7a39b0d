// cc_number is required by the contract: leaving it out must not compile.
import { Tracker } from "charter-events";

const tracker = new Tracker({ endpoint: "http://localhost:8080" });
tracker.track("com.acme.shop/payment/1", {
  order_id: 1001,
  product_id: 7,
  amount: 9.5,
  confirmation_code: "AB12CD34",
  ts: "2026-11-21T10:00:00Z",
});

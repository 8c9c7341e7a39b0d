// A reference typed `SchemaRef` could be any contract: its data cannot be checked, so it must not compile.
import { Tracker, type OrderV1, type SchemaRef } from "charter-events";

const tracker = new Tracker({ endpoint: "http://localhost:8080" });
const order: OrderV1 = {
  orderid: 1,
  orderdate: "2026-11-21T10:00:00Z",
  customerid: 2,
  customername: "Ada",
  items: [{ orderitemid: 1, productid: 7, quantity: 1, price: 950 }],
};
export function send(schema: SchemaRef): void {
  tracker.track(schema, order); // the payment contract's reference would send an order as a payment
}

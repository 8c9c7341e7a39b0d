// Any string is not a contract reference.
import { Tracker } from "charter-events";

const tracker = new Tracker({ endpoint: "http://localhost:8080" });
export function send(schema: string): void {
  tracker.track(schema, { order_id: 1001 });
}

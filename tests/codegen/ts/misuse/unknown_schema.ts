// A misspelt contract reference must not compile.
import { Tracker } from "charter-events";

const tracker = new Tracker({ endpoint: "http://localhost:8080" });
tracker.track("com.acme.shop/paymnt/1", { order_id: 1001 });

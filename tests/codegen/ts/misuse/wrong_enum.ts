// status is an enum in the contract: a value outside it must not compile.
import { Tracker } from "charter-events";

const tracker = new Tracker({ endpoint: "http://localhost:8080" });
tracker.track("com.datingapp.interactions/messages/1", {
  user_id: "u1",
  subject_id: "u2",
  message_text: "hi",
  status: "deleted",
  created_at: "2026-11-21T10:00:00Z",
  updated_at: "2026-11-21T10:00:00Z",
});

/**
 * The tracker: queues events, sends them in batches to the collector's `POST /v1/events`,
 * retries only what the collector asked to be retried (429, 503, network errors), and never
 * throws into the host app: whatever goes wrong is reported to `onFailure`.
 *
 * Works in browsers (fetch with `keepalive`, `navigator.sendBeacon` when the page is hidden)
 * and in Node 18+ (global fetch). Copied verbatim by `charter codegen typescript`.
 */

import type { EventData, SchemaRef } from "./events.js";
import { uuidv7 } from "./uuid.js";

/** Why events did not reach the collector, or were refused by it. */
export type FailureReason =
  /** The queue held `maxQueue` events: this one was dropped. */
  | "queue_full"
  /** `track()` after `close()`: the event was dropped. */
  | "closed"
  /** `JSON.stringify` threw on the data (a cycle, a BigInt): the event was dropped. */
  | "unserializable"
  /** The collector answered 207: these events broke their contract (they are in its dead-letter topic). */
  | "rejected"
  /** The collector refused the request (400, 413, 415, ...) or there is no fetch: not retried. */
  | "refused"
  /** 429, 503 or network errors on every one of `1 + maxRetries` attempts. */
  | "retries_exhausted"
  /** A bug in the tracker itself; the events are lost. Please report it. */
  | "error";

export interface FailedEvent {
  readonly id: string;
  readonly schema: string;
  readonly data: unknown;
}

export interface TrackerFailure {
  readonly reason: FailureReason;
  readonly message: string;
  readonly events: readonly FailedEvent[];
  /** The HTTP status, when the collector answered. */
  readonly status?: number;
  /** The collector's per-event errors (207): index, id, type, failures. */
  readonly errors?: readonly unknown[];
}

/** The part of `fetch` the tracker uses, so no DOM or Node types leak into its API. */
export type FetchLike = (
  url: string,
  init: { method: "POST"; headers: Record<string, string>; body: string; keepalive?: boolean; signal?: unknown },
) => Promise<{ readonly status: number; readonly headers: { get(name: string): string | null }; text(): Promise<string> }>;

export interface TrackerOptions {
  /** Collector base URL, e.g. `http://localhost:8080` (`""`: the page's own origin); events are POSTed to
   * `<endpoint>/v1/events` (a query string such as `?key=<write key>` is kept). */
  endpoint: string;
  /** Send when this many events are queued. Default 50. */
  batchSize?: number;
  /** Send when the queued events reach this many bytes; a batch never exceeds it (but a lone event may).
   * Default 60000, under the browsers' 64 KiB budget for keepalive requests and beacons. */
  maxBytes?: number;
  /** Send queued events at the latest this long after the first of them was tracked. Default 1000. */
  flushIntervalMs?: number;
  /** Events held (queued or being sent) at most; more are dropped and reported. Default 1000. */
  maxQueue?: number;
  /** Retries of a batch after 429/503/network errors. Default 5. */
  maxRetries?: number;
  /** First retry delay; doubles each retry, with jitter, capped by `retryMaxMs`. Default 250. */
  retryBaseMs?: number;
  /** Longest backoff delay (a longer `Retry-After` is still honoured). Default 30000. */
  retryMaxMs?: number;
  /** Abort a request after this long and treat it as a network error. Default 10000. */
  timeoutMs?: number;
  /** Told about every event that did not make it, or was rejected. Errors it throws are ignored. */
  onFailure?: (failure: TrackerFailure) => void;
  /** A fetch implementation; defaults to the global `fetch`. */
  fetch?: FetchLike;
}

interface Queued extends FailedEvent {
  readonly json: string;
  readonly bytes: number;
}

type Attempt = { readonly retry: false } | { readonly retry: true; readonly message: string; readonly waitMs?: number };

interface BrowserGlobals {
  document?: {
    readonly visibilityState: string;
    addEventListener(type: string, listener: () => void): void;
    removeEventListener(type: string, listener: () => void): void;
  };
  addEventListener?(type: string, listener: () => void): void;
  removeEventListener?(type: string, listener: () => void): void;
  navigator?: { sendBeacon?(url: string, data: string): boolean };
  fetch?: FetchLike;
}

const host = globalThis as unknown as BrowserGlobals;
const encoder = new TextEncoder();
const DONE: Attempt = { retry: false };
// `,"sent_at":"2026-11-21T10:00:00.123Z"` and a separating comma, added when a batch is sent
const SENT_AT_BYTES = 40;
// Browsers refuse keepalive requests past 64 KiB in flight.
const KEEPALIVE_BYTES = 64 * 1024;

export class Tracker {
  private readonly url: string;
  private readonly batchSize: number;
  private readonly maxBytes: number;
  private readonly flushIntervalMs: number;
  private readonly maxQueue: number;
  private readonly maxRetries: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly timeoutMs: number;
  private readonly onFailure: ((failure: TrackerFailure) => void) | undefined;
  private readonly fetch: FetchLike | undefined;
  private readonly browser: boolean;
  private queue: Queued[] = [];
  private queuedBytes = 0;
  private sending = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private draining: Promise<void> | undefined;
  private closed = false;

  constructor(options: TrackerOptions) {
    const endpoint: unknown = options.endpoint; // plain JavaScript callers get no compiler to check it
    this.url = eventsUrl(typeof endpoint === "string" ? endpoint : "");
    this.batchSize = Math.max(1, options.batchSize ?? 50);
    this.maxBytes = Math.max(1, options.maxBytes ?? 60_000);
    this.flushIntervalMs = Math.max(0, options.flushIntervalMs ?? 1000);
    this.maxQueue = Math.max(1, options.maxQueue ?? 1000);
    this.maxRetries = Math.max(0, options.maxRetries ?? 5);
    this.retryBaseMs = Math.max(0, options.retryBaseMs ?? 250);
    this.retryMaxMs = Math.max(0, options.retryMaxMs ?? 30_000);
    this.timeoutMs = Math.max(1, options.timeoutMs ?? 10_000);
    this.onFailure = options.onFailure;
    this.fetch = options.fetch ?? (typeof host.fetch === "function" ? host.fetch.bind(globalThis) : undefined);
    this.browser = host.document !== undefined;
    if (this.browser) {
      host.document?.addEventListener("visibilitychange", this.onVisibilityChange);
      host.addEventListener?.("pagehide", this.onPageHide);
    }
  }

  /**
   * Queue one event for the contract `schema`; `data` must match its type. Returns the event id
   * (a UUIDv7), or `undefined` when the event was dropped (and reported to `onFailure`).
   *
   * `schema` is one contract reference: a variable typed `SchemaRef` (which could be any contract)
   * does not compile, as its data could not be checked. To pass both through a function of your
   * own, type them `<S extends SchemaRef>(schema: S, data: EventData<S>)`.
   */
  track<S extends SchemaRef>(schema: S, data: EventData<S>): string | undefined {
    try {
      return this.enqueue(schema, data);
    } catch (error) {
      this.report("error", `track() failed: ${describe(error)}`, []);
      return undefined;
    }
  }

  /** Send every queued event; resolves (never rejects) when each was delivered or reported. */
  flush(): Promise<void> {
    this.clearTimer();
    if (this.draining === undefined) {
      this.draining = this.drain().finally(() => {
        this.draining = undefined;
        if (this.queue.length > 0) this.schedule();
      });
    }
    return this.draining;
  }

  /** Stop listening for page hide, refuse further events and flush the queued ones. */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      host.document?.removeEventListener("visibilitychange", this.onVisibilityChange);
      host.removeEventListener?.("pagehide", this.onPageHide);
    }
    return this.flush();
  }

  private enqueue(schema: string, data: unknown): string | undefined {
    const id = uuidv7();
    const event = { id, schema, data };
    if (this.closed) return this.drop("closed", "track() after close(): event dropped", event);
    let json: string;
    try {
      json = JSON.stringify({ schema, id, data }); // a snapshot: later changes to `data` are not sent
    } catch (error) {
      return this.drop("unserializable", `data is not JSON-serializable: ${describe(error)}`, event);
    }
    if (this.queue.length + this.sending >= this.maxQueue) {
      return this.drop("queue_full", `queue full (maxQueue ${this.maxQueue}): event dropped`, event);
    }
    const bytes = encoder.encode(json).length + SENT_AT_BYTES;
    this.queue.push({ ...event, json, bytes });
    this.queuedBytes += bytes;
    if (this.queue.length >= this.batchSize || this.queuedBytes >= this.maxBytes) void this.flush();
    else this.schedule();
    return id;
  }

  private drop(reason: FailureReason, message: string, event: FailedEvent): undefined {
    this.report(reason, message, [event]);
    return undefined;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.take();
      this.sending += batch.length;
      try {
        await this.deliver(batch);
      } catch (error) {
        this.report("error", `sending failed: ${describe(error)}`, batch);
      } finally {
        this.sending -= batch.length;
      }
    }
  }

  /** The oldest events that fit in one batch (at least one). */
  private take(): Queued[] {
    let n = 0;
    let bytes = 0;
    for (const event of this.queue) {
      if (n > 0 && (n >= this.batchSize || bytes + event.bytes > this.maxBytes)) break;
      n += 1;
      bytes += event.bytes;
    }
    this.queuedBytes -= bytes;
    return this.queue.splice(0, n);
  }

  private async deliver(batch: Queued[]): Promise<void> {
    for (let retries = 0; ; retries++) {
      const attempt = await this.post(batch);
      if (!attempt.retry) return;
      if (retries >= this.maxRetries) {
        const message = `gave up after ${retries + 1} attempts: ${attempt.message}`;
        this.report("retries_exhausted", message, batch);
        return;
      }
      await sleep(this.backoff(retries, attempt.waitMs));
    }
  }

  private async post(batch: Queued[]): Promise<Attempt> {
    if (this.fetch === undefined) {
      this.report("refused", "no global fetch: use Node 18+ or pass options.fetch", batch);
      return DONE;
    }
    const body = encodeBatch(batch);
    const controller = typeof AbortController === "function" ? new AbortController() : undefined;
    const timer = setTimeout(() => controller?.abort(), this.timeoutMs);
    let status: number;
    let retryAfter: string | null;
    let text: string;
    try {
      const response = await this.fetch(this.url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body,
        keepalive: this.browser && batchBytes(batch) < KEEPALIVE_BYTES ? true : undefined,
        signal: controller?.signal,
      });
      status = response.status;
      retryAfter = response.headers.get("Retry-After");
      text = await response.text();
    } catch (error) {
      return { retry: true, message: `network error: ${describe(error)}` };
    } finally {
      clearTimeout(timer);
    }
    return this.settle(batch, status, retryAfter, text);
  }

  private settle(batch: Queued[], status: number, retryAfter: string | null, text: string): Attempt {
    if (status === 429 || status === 503) {
      return { retry: true, message: `collector answered ${status}`, waitMs: parseRetryAfter(retryAfter) };
    }
    if (status === 207) {
      const errors = collectorErrors(text);
      const events = errors.map((e) => batch[indexOf(e)]).filter((e): e is Queued => e !== undefined);
      const message = `collector rejected ${errors.length} of ${batch.length} events (see errors)`;
      this.report("rejected", message, events, status, errors);
    } else if (status < 200 || status >= 300) {
      this.report("refused", `collector answered ${status}: ${text.slice(0, 500)}`, batch, status);
    }
    return DONE;
  }

  private backoff(retries: number, waitMs: number | undefined): number {
    const ceiling = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** retries);
    const jittered = ceiling / 2 + Math.random() * (ceiling / 2); // spread clients out after an outage
    return Math.max(jittered, waitMs ?? 0);
  }

  private schedule(): void {
    if (this.timer !== undefined || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.flushIntervalMs);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private readonly onVisibilityChange = (): void => {
    if (host.document?.visibilityState === "hidden") this.sendOnHide();
  };

  private readonly onPageHide = (): void => {
    this.sendOnHide();
  };

  /** The page may be going away: hand queued events to the browser, which sends them even after unload. */
  private sendOnHide(): void {
    try {
      const navigator = host.navigator;
      if (typeof navigator?.sendBeacon !== "function") {
        void this.flush(); // fetch with keepalive also outlives the page
        return;
      }
      this.clearTimer();
      while (this.queue.length > 0) {
        const batch = this.take();
        // a string body is sent as text/plain: no CORS preflight, and the collector reads it as JSON
        if (!navigator.sendBeacon(this.url, encodeBatch(batch))) {
          this.queue.unshift(...batch); // the browser's beacon budget is spent: fall back to fetch
          this.queuedBytes += batchBytes(batch);
          void this.flush();
          return;
        }
      }
    } catch (error) {
      this.report("error", `sending on page hide failed: ${describe(error)}`, []);
    }
  }

  private report(
    reason: FailureReason,
    message: string,
    events: readonly FailedEvent[],
    status?: number,
    errors?: readonly unknown[],
  ): void {
    if (this.onFailure === undefined) return;
    const plain = events.map(({ id, schema, data }) => ({ id, schema, data }));
    const failure: TrackerFailure = { reason, message, events: plain, ...(status === undefined ? {} : { status }) };
    try {
      this.onFailure(errors === undefined ? failure : { ...failure, errors });
    } catch {
      // the host's callback must not break the tracker, and the tracker must not throw into the host
    }
  }
}

/** A JSON array of the events, each stamped with the time of this send attempt. */
function encodeBatch(batch: readonly Queued[]): string {
  const sentAt = `{"sent_at":${JSON.stringify(new Date().toISOString())},`;
  return `[${batch.map((e) => sentAt + e.json.slice(1)).join(",")}]`;
}

function batchBytes(batch: readonly Queued[]): number {
  return batch.reduce((sum, e) => sum + e.bytes, 0);
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date. */
function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function collectorErrors(text: string): unknown[] {
  try {
    const body: unknown = JSON.parse(text);
    const errors = (body as { errors?: unknown }).errors;
    return Array.isArray(errors) ? errors : [];
  } catch {
    return [];
  }
}

function indexOf(error: unknown): number {
  const index = (error as { index?: unknown } | null)?.index;
  return typeof index === "number" ? index : -1;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `<endpoint>/v1/events`, keeping the endpoint's query string (`?key=<write key>`) after the path. */
function eventsUrl(endpoint: string): string {
  const at = endpoint.indexOf("?");
  const base = at < 0 ? endpoint : endpoint.slice(0, at);
  return `${base.replace(/\/+$/, "")}/v1/events${at < 0 ? "" : endpoint.slice(at)}`;
}

/**
 * The tracker: queues events, sends them in batches to the collector's `POST /v1/events`,
 * retries only what the collector asked to be retried (429, 503, network errors), and never
 * throws into the host app: whatever goes wrong is reported to `onFailure`.
 *
 * Works in browsers (fetch with `keepalive`, `navigator.sendBeacon` when the page is hidden)
 * and in Node 18+ (global fetch). Copied verbatim by `charter codegen typescript`.
 */
import { uuidv7 } from "./uuid.js";
const host = globalThis;
const encoder = new TextEncoder();
const DONE = { retry: false };
// `,"sent_at":"2026-11-21T10:00:00.123Z"` and a separating comma, added when a batch is sent
const SENT_AT_BYTES = 40;
// Browsers refuse keepalive requests past 64 KiB in flight.
const KEEPALIVE_BYTES = 64 * 1024;
export class Tracker {
    url;
    batchSize;
    maxBytes;
    flushIntervalMs;
    maxQueue;
    maxRetries;
    retryBaseMs;
    retryMaxMs;
    timeoutMs;
    onFailure;
    fetch;
    browser;
    queue = [];
    queuedBytes = 0;
    sending = 0;
    timer;
    draining;
    closed = false;
    constructor(options) {
        const endpoint = options.endpoint; // plain JavaScript callers get no compiler to check it
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
    track(schema, data) {
        try {
            return this.enqueue(schema, data);
        }
        catch (error) {
            this.report("error", `track() failed: ${describe(error)}`, []);
            return undefined;
        }
    }
    /** Send every queued event; resolves (never rejects) when each was delivered or reported. */
    flush() {
        this.clearTimer();
        if (this.draining === undefined) {
            this.draining = this.drain().finally(() => {
                this.draining = undefined;
                if (this.queue.length > 0)
                    this.schedule();
            });
        }
        return this.draining;
    }
    /** Stop listening for page hide, refuse further events and flush the queued ones. */
    close() {
        if (!this.closed) {
            this.closed = true;
            host.document?.removeEventListener("visibilitychange", this.onVisibilityChange);
            host.removeEventListener?.("pagehide", this.onPageHide);
        }
        return this.flush();
    }
    enqueue(schema, data) {
        const id = uuidv7();
        const event = { id, schema, data };
        if (this.closed)
            return this.drop("closed", "track() after close(): event dropped", event);
        let json;
        try {
            json = JSON.stringify({ schema, id, data }); // a snapshot: later changes to `data` are not sent
        }
        catch (error) {
            return this.drop("unserializable", `data is not JSON-serializable: ${describe(error)}`, event);
        }
        if (this.queue.length + this.sending >= this.maxQueue) {
            return this.drop("queue_full", `queue full (maxQueue ${this.maxQueue}): event dropped`, event);
        }
        const bytes = encoder.encode(json).length + SENT_AT_BYTES;
        this.queue.push({ ...event, json, bytes });
        this.queuedBytes += bytes;
        if (this.queue.length >= this.batchSize || this.queuedBytes >= this.maxBytes)
            void this.flush();
        else
            this.schedule();
        return id;
    }
    drop(reason, message, event) {
        this.report(reason, message, [event]);
        return undefined;
    }
    async drain() {
        while (this.queue.length > 0) {
            const batch = this.take();
            this.sending += batch.length;
            try {
                await this.deliver(batch);
            }
            catch (error) {
                this.report("error", `sending failed: ${describe(error)}`, batch);
            }
            finally {
                this.sending -= batch.length;
            }
        }
    }
    /** The oldest events that fit in one batch (at least one). */
    take() {
        let n = 0;
        let bytes = 0;
        for (const event of this.queue) {
            if (n > 0 && (n >= this.batchSize || bytes + event.bytes > this.maxBytes))
                break;
            n += 1;
            bytes += event.bytes;
        }
        this.queuedBytes -= bytes;
        return this.queue.splice(0, n);
    }
    async deliver(batch) {
        for (let retries = 0;; retries++) {
            const attempt = await this.post(batch);
            if (!attempt.retry)
                return;
            if (retries >= this.maxRetries) {
                const message = `gave up after ${retries + 1} attempts: ${attempt.message}`;
                this.report("retries_exhausted", message, batch);
                return;
            }
            await sleep(this.backoff(retries, attempt.waitMs));
        }
    }
    async post(batch) {
        if (this.fetch === undefined) {
            this.report("refused", "no global fetch: use Node 18+ or pass options.fetch", batch);
            return DONE;
        }
        const body = encodeBatch(batch);
        const controller = typeof AbortController === "function" ? new AbortController() : undefined;
        const timer = setTimeout(() => controller?.abort(), this.timeoutMs);
        let status;
        let retryAfter;
        let text;
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
        }
        catch (error) {
            return { retry: true, message: `network error: ${describe(error)}` };
        }
        finally {
            clearTimeout(timer);
        }
        return this.settle(batch, status, retryAfter, text);
    }
    settle(batch, status, retryAfter, text) {
        if (status === 429 || status === 503) {
            return { retry: true, message: `collector answered ${status}`, waitMs: parseRetryAfter(retryAfter) };
        }
        if (status === 207) {
            const errors = collectorErrors(text);
            const events = errors.map((e) => batch[indexOf(e)]).filter((e) => e !== undefined);
            const message = `collector rejected ${errors.length} of ${batch.length} events (see errors)`;
            this.report("rejected", message, events, status, errors);
        }
        else if (status < 200 || status >= 300) {
            this.report("refused", `collector answered ${status}: ${text.slice(0, 500)}`, batch, status);
        }
        return DONE;
    }
    backoff(retries, waitMs) {
        const ceiling = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** retries);
        const jittered = ceiling / 2 + Math.random() * (ceiling / 2); // spread clients out after an outage
        return Math.max(jittered, waitMs ?? 0);
    }
    schedule() {
        if (this.timer !== undefined || this.closed)
            return;
        this.timer = setTimeout(() => {
            this.timer = undefined;
            void this.flush();
        }, this.flushIntervalMs);
    }
    clearTimer() {
        if (this.timer !== undefined)
            clearTimeout(this.timer);
        this.timer = undefined;
    }
    onVisibilityChange = () => {
        if (host.document?.visibilityState === "hidden")
            this.sendOnHide();
    };
    onPageHide = () => {
        this.sendOnHide();
    };
    /** The page may be going away: hand queued events to the browser, which sends them even after unload. */
    sendOnHide() {
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
        }
        catch (error) {
            this.report("error", `sending on page hide failed: ${describe(error)}`, []);
        }
    }
    report(reason, message, events, status, errors) {
        if (this.onFailure === undefined)
            return;
        const plain = events.map(({ id, schema, data }) => ({ id, schema, data }));
        const failure = { reason, message, events: plain, ...(status === undefined ? {} : { status }) };
        try {
            this.onFailure(errors === undefined ? failure : { ...failure, errors });
        }
        catch {
            // the host's callback must not break the tracker, and the tracker must not throw into the host
        }
    }
}
/** A JSON array of the events, each stamped with the time of this send attempt. */
function encodeBatch(batch) {
    const sentAt = `{"sent_at":${JSON.stringify(new Date().toISOString())},`;
    return `[${batch.map((e) => sentAt + e.json.slice(1)).join(",")}]`;
}
function batchBytes(batch) {
    return batch.reduce((sum, e) => sum + e.bytes, 0);
}
/** `Retry-After` as milliseconds: delta-seconds or an HTTP date. */
function parseRetryAfter(value) {
    if (value === null || value.trim() === "")
        return undefined;
    const seconds = Number(value);
    if (Number.isFinite(seconds))
        return Math.max(0, seconds * 1000);
    const date = Date.parse(value);
    return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
function collectorErrors(text) {
    try {
        const body = JSON.parse(text);
        const errors = body.errors;
        return Array.isArray(errors) ? errors : [];
    }
    catch {
        return [];
    }
}
function indexOf(error) {
    const index = error?.index;
    return typeof index === "number" ? index : -1;
}
function describe(error) {
    return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}
/** `<endpoint>/v1/events`, keeping the endpoint's query string (`?key=<write key>`) after the path. */
function eventsUrl(endpoint) {
    const at = endpoint.indexOf("?");
    const base = at < 0 ? endpoint : endpoint.slice(0, at);
    return `${base.replace(/\/+$/, "")}/v1/events${at < 0 ? "" : endpoint.slice(at)}`;
}

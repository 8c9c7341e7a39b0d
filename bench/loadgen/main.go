// Command loadgen is Charter's HTTP load generator, run as its own process by bench/run.py.
//
// Two modes, one JSON object on stdout:
//
//	throughput  closed loop: -c connections (keep-alive) POST as fast as they can for -d
//	            seconds; reports requests/s, events/s, status counts, p50/p99 latency.
//	latency     open loop: requests are scheduled at a fixed -rate, and latency is measured
//	            from each request's *scheduled* send time, so a slow server cannot lower the
//	            offered rate or hide its stalls (no coordinated omission). A pool of -c
//	            connections sends them; the report says how late sends started, so a lagging
//	            generator is visible instead of silently flattering the numbers.
//
// Several collectors: -url may be given more than once (or as a comma list). Request i (the
// i-th body taken, in either mode) goes to URL i mod n, so consecutive bodies always go to
// different collectors, and the report counts requests and statuses per URL.
//
// Bodies: -body FILE sends the whole file as every request's body; -bodies FILE holds one
// body per line (NDJSON) and requests take them in turn. The events a body holds (a JSON
// array's length, else 1) are counted to turn requests into events.
//
// Standard library only.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type config struct {
	mode      string
	urls      []string
	bodyFile  string
	linesFile string
	conns     int
	duration  time.Duration
	rate      float64
	timeout   time.Duration
}

// body is one request body and the number of events it carries.
type body struct {
	data   []byte
	events int
}

// tally is what one worker saw; workers keep their own and they are merged at the end,
// so the hot loop takes no lock.
type tally struct {
	latencies  []time.Duration // end of response minus the request's reference start
	sendDelays []time.Duration // latency mode: actual send start minus scheduled time
	status     map[string]int
	errs       map[string]int
	eventsSent int
	eventsOK   int // events in requests answered 200
	accepted   int // sum of "accepted" over 200/207 answers
	rejected   int // sum of "rejected" over 200/207 answers
	answered   int // events in requests answered 200 or 207 (each one accepted or recorded as bad)
	byURL      map[string]map[string]int
	last       time.Time
	perSecond  []int // requests completed in each second since the start
}

// done records that a request completed now.
func (t *tally) done(start time.Time) {
	t.last = time.Now()
	s := int(t.last.Sub(start) / time.Second)
	for len(t.perSecond) <= s {
		t.perSecond = append(t.perSecond, 0)
	}
	t.perSecond[s]++
}

func newTally() *tally {
	return &tally{status: map[string]int{}, errs: map[string]int{}, byURL: map[string]map[string]int{}}
}

type latencyStats struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

type report struct {
	Mode              string                    `json:"mode"`
	URL               string                    `json:"url"`
	URLs              []string                  `json:"urls"`
	StatusByURL       map[string]map[string]int `json:"status_by_url"`
	Connections       int                       `json:"connections"`
	DurationS         float64                   `json:"duration_s"`
	ElapsedS          float64                   `json:"elapsed_s"`
	Bodies            int                       `json:"bodies"`
	EventsPerRequest  float64                   `json:"events_per_request"`
	Requests          int                       `json:"requests"`
	RequestsPerS      float64                   `json:"requests_per_s"`
	EventsSent        int                       `json:"events_sent"`
	EventsOK          int                       `json:"events_ok"`
	EventsAccepted    int                       `json:"events_accepted"`
	EventsRejected    int                       `json:"events_rejected"`
	EventsAnswered    int                       `json:"events_answered"`
	AnsweredPerS      float64                   `json:"events_answered_per_s"`
	EventsPerS        float64                   `json:"events_per_s"`
	Status            map[string]int            `json:"status"`
	Errors            map[string]int            `json:"errors"`
	LatencyMs         latencyStats              `json:"latency_ms"`
	TargetRate        float64                   `json:"target_rate,omitempty"`
	Scheduled         int                       `json:"scheduled,omitempty"`
	AchievedRate      float64                   `json:"achieved_rate,omitempty"`
	SendDelayMs       *latencyStats             `json:"send_delay_ms,omitempty"`
	DispatchLagMaxMs  float64                   `json:"dispatch_lag_max_ms,omitempty"`
	LoadgenCPUSeconds float64                   `json:"loadgen_cpu_s"`
	PerSecond         []int                     `json:"requests_per_second_timeline"`
}

func main() {
	cfg := parseFlags()
	bodies, err := loadBodies(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	client := newClient(cfg)
	var rep report
	switch cfg.mode {
	case "throughput":
		rep = runThroughput(cfg, client, bodies)
	case "latency":
		rep = runLatency(cfg, client, bodies)
	default:
		fmt.Fprintf(os.Stderr, "loadgen: -mode must be throughput or latency, got %q\n", cfg.mode)
		os.Exit(2)
	}
	rep.LoadgenCPUSeconds = cpuSeconds()
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func parseFlags() config {
	var cfg config
	var seconds float64
	var timeoutS float64
	flag.StringVar(&cfg.mode, "mode", "throughput", "throughput (closed loop) or latency (open loop, fixed rate)")
	flag.Var((*urlList)(&cfg.urls), "url", "endpoint to POST to; repeat it (or give a comma list) to spread requests "+
		"over several collectors, request i to URL i mod n (default http://127.0.0.1:18080/v1/events)")
	flag.StringVar(&cfg.bodyFile, "body", "", "file whose whole content is every request's body")
	flag.StringVar(&cfg.linesFile, "bodies", "", "file with one request body per line, used in turn")
	flag.IntVar(&cfg.conns, "c", 0, "connections (default 32 for throughput, 64 for latency)")
	flag.Float64Var(&seconds, "d", 15, "duration in seconds")
	flag.Float64Var(&cfg.rate, "rate", 1000, "latency mode: requests per second to offer")
	flag.Float64Var(&timeoutS, "timeout", 15, "per-request timeout in seconds")
	flag.Parse()
	if cfg.conns <= 0 {
		cfg.conns = 32
		if cfg.mode == "latency" {
			cfg.conns = 64
		}
	}
	if len(cfg.urls) == 0 {
		cfg.urls = []string{"http://127.0.0.1:18080/v1/events"}
	}
	if (cfg.bodyFile == "") == (cfg.linesFile == "") {
		fmt.Fprintln(os.Stderr, "loadgen: give exactly one of -body FILE or -bodies FILE")
		os.Exit(2)
	}
	if seconds <= 0 || cfg.rate <= 0 {
		fmt.Fprintln(os.Stderr, "loadgen: -d and -rate must be > 0")
		os.Exit(2)
	}
	cfg.duration = time.Duration(seconds * float64(time.Second))
	cfg.timeout = time.Duration(timeoutS * float64(time.Second))
	return cfg
}

// urlList is the repeatable -url flag; each value may also be a comma-separated list.
type urlList []string

func (u *urlList) String() string { return strings.Join(*u, ",") }

func (u *urlList) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*u = append(*u, part)
		}
	}
	return nil
}

func loadBodies(cfg config) ([]body, error) {
	var raw [][]byte
	if cfg.bodyFile != "" {
		data, err := os.ReadFile(cfg.bodyFile)
		if err != nil {
			return nil, err
		}
		raw = append(raw, bytes.TrimSpace(data))
	} else {
		f, err := os.Open(cfg.linesFile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
				raw = append(raw, append([]byte(nil), line...))
			}
		}
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	out := make([]body, 0, len(raw))
	for i, data := range raw {
		n, err := countEvents(data)
		if err != nil {
			return nil, fmt.Errorf("body %d is not JSON: %w", i, err)
		}
		out = append(out, body{data, n})
	}
	if len(out) == 0 {
		return nil, errors.New("no request bodies found")
	}
	return out, nil
}

func countEvents(data []byte) (int, error) {
	if len(data) > 0 && data[0] == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(data, &items); err != nil {
			return 0, err
		}
		return len(items), nil
	}
	if !json.Valid(data) {
		return 0, errors.New("invalid JSON")
	}
	return 1, nil
}

func newClient(cfg config) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		DialContext:         dialer.DialContext,
		MaxIdleConns:        cfg.conns * len(cfg.urls),
		MaxIdleConnsPerHost: cfg.conns,
		MaxConnsPerHost:     cfg.conns,
		// uvicorn closes a connection idle for 5 s (its default keep-alive); closing ours first
		// keeps a POST from racing that close (a reset, which Go does not retry for a POST). With
		// several -url a connection to one collector can sit idle while its worker talks to another.
		IdleConnTimeout:    4 * time.Second,
		DisableCompression: true,
		ForceAttemptHTTP2:  false,
	}
	return &http.Client{Transport: transport, Timeout: cfg.timeout}
}

type answer struct {
	Accepted int `json:"accepted"`
	Rejected int `json:"rejected"`
}

// post sends one body and records its outcome; it returns when the response is fully read,
// so the keep-alive connection goes back to the pool.
func post(client *http.Client, url string, b body, t *tally) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b.data))
	if err != nil {
		t.errs[err.Error()]++
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "charter-loadgen/1")
	t.eventsSent += b.events
	resp, err := client.Do(req)
	if err != nil {
		t.status["error"]++
		t.errs[errorKind(err)]++
		if t.byURL[url] == nil {
			t.byURL[url] = map[string]int{}
		}
		t.byURL[url]["error"]++
		return
	}
	payload, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	code := strconv.Itoa(resp.StatusCode)
	t.status[code]++
	if t.byURL[url] == nil {
		t.byURL[url] = map[string]int{}
	}
	t.byURL[url][code]++
	if err != nil {
		t.errs[errorKind(err)]++
		return
	}
	if resp.StatusCode == http.StatusOK {
		t.eventsOK += b.events
	}
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusMultiStatus {
		t.answered += b.events
		var a answer
		if json.Unmarshal(payload, &a) == nil {
			t.accepted += a.Accepted
			t.rejected += a.Rejected
		}
	}
}

func errorKind(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	msg := err.Error()
	if len(msg) > 160 {
		msg = msg[:160]
	}
	return msg
}

func runThroughput(cfg config, client *http.Client, bodies []body) report {
	tallies := make([]*tally, cfg.conns)
	var next atomic.Uint64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(cfg.duration)
	for w := range tallies {
		t := newTally()
		tallies[w] = t
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				i := int(next.Add(1) - 1)
				sent := time.Now()
				post(client, cfg.urls[i%len(cfg.urls)], bodies[i%len(bodies)], t)
				t.done(start)
				t.latencies = append(t.latencies, t.last.Sub(sent))
			}
		}()
	}
	wg.Wait()
	return summarize(cfg, bodies, start, tallies)
}

type job struct {
	index     int
	scheduled time.Time
}

func runLatency(cfg config, client *http.Client, bodies []body) report {
	total := int(math.Round(cfg.rate * cfg.duration.Seconds()))
	interval := time.Duration(float64(time.Second) / cfg.rate)
	jobs := make(chan job, total) // never blocks the dispatcher, so the schedule holds
	tallies := make([]*tally, cfg.conns)
	var wg sync.WaitGroup
	start := time.Now().Add(10 * time.Millisecond) // the pool is running by then
	for w := range tallies {
		t := newTally()
		tallies[w] = t
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				sent := time.Now()
				post(client, cfg.urls[j.index%len(cfg.urls)], bodies[j.index%len(bodies)], t)
				t.done(start)
				t.latencies = append(t.latencies, t.last.Sub(j.scheduled))
				t.sendDelays = append(t.sendDelays, sent.Sub(j.scheduled))
			}
		}()
	}
	var maxLag time.Duration
	for i := 0; i < total; i++ {
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		if lag := time.Since(at); lag > maxLag {
			maxLag = lag
		}
		jobs <- job{i, at}
	}
	close(jobs)
	wg.Wait()
	rep := summarize(cfg, bodies, start, tallies)
	rep.TargetRate = cfg.rate
	rep.Scheduled = total
	rep.AchievedRate = round3(float64(rep.Requests) / rep.ElapsedS)
	var delays []time.Duration
	for _, t := range tallies {
		delays = append(delays, t.sendDelays...)
	}
	s := stats(delays)
	rep.SendDelayMs = &s
	rep.DispatchLagMaxMs = ms(maxLag)
	return rep
}

func summarize(cfg config, bodies []body, start time.Time, tallies []*tally) report {
	rep := report{
		Mode: cfg.mode, URL: cfg.urls[0], URLs: cfg.urls, Connections: cfg.conns, DurationS: cfg.duration.Seconds(),
		Bodies: len(bodies), Status: map[string]int{}, Errors: map[string]int{}, StatusByURL: map[string]map[string]int{},
	}
	var all []time.Duration
	last := start
	totalEvents := 0
	for _, b := range bodies {
		totalEvents += b.events
	}
	rep.EventsPerRequest = round3(float64(totalEvents) / float64(len(bodies)))
	for _, t := range tallies {
		all = append(all, t.latencies...)
		for k, v := range t.status {
			rep.Status[k] += v
		}
		for k, v := range t.errs {
			rep.Errors[k] += v
		}
		rep.EventsSent += t.eventsSent
		rep.EventsOK += t.eventsOK
		rep.EventsAccepted += t.accepted
		rep.EventsRejected += t.rejected
		rep.EventsAnswered += t.answered
		for u, codes := range t.byURL {
			if rep.StatusByURL[u] == nil {
				rep.StatusByURL[u] = map[string]int{}
			}
			for k, v := range codes {
				rep.StatusByURL[u][k] += v
			}
		}
		if t.last.After(last) {
			last = t.last
		}
		for s, n := range t.perSecond {
			for len(rep.PerSecond) <= s {
				rep.PerSecond = append(rep.PerSecond, 0)
			}
			rep.PerSecond[s] += n
		}
	}
	rep.Requests = len(all)
	rep.ElapsedS = round3(last.Sub(start).Seconds())
	if rep.ElapsedS > 0 {
		rep.RequestsPerS = round3(float64(rep.Requests) / rep.ElapsedS)
		rep.EventsPerS = round3(float64(rep.EventsOK) / rep.ElapsedS)
		rep.AnsweredPerS = round3(float64(rep.EventsAnswered) / rep.ElapsedS)
	}
	rep.LatencyMs = stats(all)
	return rep
}

func stats(ds []time.Duration) latencyStats {
	if len(ds) == 0 {
		return latencyStats{}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return latencyStats{
		Mean: ms(sum / time.Duration(len(ds))),
		P50:  ms(percentile(ds, 50)),
		P90:  ms(percentile(ds, 90)),
		P99:  ms(percentile(ds, 99)),
		P999: ms(percentile(ds, 99.9)),
		Max:  ms(ds[len(ds)-1]),
	}
}

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

func ms(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return round3(tv(ru.Utime) + tv(ru.Stime))
}

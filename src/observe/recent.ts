import type { RequestRecord } from "./record";

/**
 * Rolling figures for the status page: per model and per target, requests, errors and time to
 * first byte over the last few minutes, and tokens since 00:00 UTC. Memory is bounded: each series
 * is a ring of a fixed number of time buckets, each with a fixed-size sample reservoir, allocated
 * once and reused; series with nothing in the window are dropped when read. Recording a request is
 * a few map lookups and increments (no allocation once a series is warm), never I/O.
 */

export interface RecentOptions {
  /** Length of one bucket (default 10 s). */
  readonly bucketMs?: number;
  /** Buckets in the window (default 30: 5 minutes of 10 s). */
  readonly buckets?: number;
  /** Time-to-first-byte samples kept per bucket (default 64, reservoir-sampled beyond). */
  readonly samplesPerBucket?: number;
  readonly now?: () => number;
  readonly random?: () => number;
}

/** One series' figures over the window. Percentiles are null when no sample is in the window. */
export interface WindowSummary {
  readonly requests: number;
  readonly errors: number;
  readonly ttfbP50Ms: number | null;
  readonly ttfbP95Ms: number | null;
}

export interface TokenCount {
  readonly prompt: number;
  readonly completion: number;
}

const DAY_MS = 86_400_000;
const EMPTY: WindowSummary = { requests: 0, errors: 0, ttfbP50Ms: null, ttfbP95Ms: null };

class Bucket {
  /** The absolute bucket number (time / bucketMs) this slot holds now; -1 when never used. */
  index = -1;
  requests = 0;
  errors = 0;
  /** Samples offered to the reservoir in this bucket. */
  seen = 0;
  samples: Float64Array | null = null;
}

/** One ring of buckets: a model's or a target's figures. */
export class Series {
  private readonly ring: Bucket[];
  /** The newest bucket number written, to tell a stale series. */
  newest = -1;

  constructor(
    buckets: number,
    private readonly capacity: number,
    private readonly random: () => number,
  ) {
    this.ring = Array.from({ length: buckets }, () => new Bucket());
  }

  add(index: number, error: boolean, ttfbMs: number | null): void {
    const bucket = this.ring[index % this.ring.length]!;
    if (bucket.index !== index) {
      bucket.index = index;
      bucket.requests = 0;
      bucket.errors = 0;
      bucket.seen = 0;
    }
    if (index > this.newest) this.newest = index;
    bucket.requests++;
    if (error) bucket.errors++;
    if (ttfbMs === null) return;
    const samples = (bucket.samples ??= new Float64Array(this.capacity));
    if (bucket.seen < this.capacity) {
      samples[bucket.seen] = ttfbMs;
    } else {
      // Reservoir sampling: every sample of the bucket has the same chance to be kept.
      const slot = Math.floor(this.random() * (bucket.seen + 1));
      if (slot < this.capacity) samples[slot] = ttfbMs;
    }
    bucket.seen++;
  }

  /** The figures of the buckets within the window that ends with bucket `current`. */
  summary(current: number): WindowSummary {
    const oldest = current - this.ring.length + 1;
    let requests = 0;
    let errors = 0;
    const weighted: [number, number][] = [];
    for (const bucket of this.ring) {
      if (bucket.index < oldest || bucket.index > current) continue;
      requests += bucket.requests;
      errors += bucket.errors;
      const kept = Math.min(bucket.seen, this.capacity);
      // A kept sample stands for seen/kept samples of its bucket, so busy buckets weigh more.
      for (let i = 0; i < kept; i++) weighted.push([bucket.samples![i]!, bucket.seen / kept]);
    }
    return { requests, errors, ttfbP50Ms: weightedPercentile(weighted, 0.5), ttfbP95Ms: weightedPercentile(weighted, 0.95) };
  }
}

/**
 * Nearest rank over weighted samples: the smallest value whose cumulative weight reaches `q` of
 * the total (with equal weights, the ⌈q·n⌉-th smallest). Sorts `samples` in place.
 */
export function weightedPercentile(samples: [number, number][], q: number): number | null {
  if (samples.length === 0) return null;
  samples.sort((a, b) => a[0] - b[0]);
  let total = 0;
  for (const [, weight] of samples) total += weight;
  const goal = q * total * (1 - 1e-12);
  let sum = 0;
  for (const [value, weight] of samples) {
    sum += weight;
    if (sum >= goal) return round1(value);
  }
  return round1(samples[samples.length - 1]![0]);
}

const round1 = (ms: number) => Math.round(ms * 10) / 10;

class ModelEntry {
  readonly targets = new Map<string, Series>();
  prompt = 0;
  completion = 0;
  constructor(readonly series: Series) {}
}

/** The request failed on the backend side (not the client's doing). */
const isError = (record: RequestRecord) => record.outcome === "upstream_error" || record.outcome === "timeout" || record.status >= 500;

export class RecentStats {
  readonly bucketMs: number;
  readonly buckets: number;
  readonly startedAt: number;
  private readonly capacity: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly models = new Map<string, ModelEntry>();
  /** The UTC day (days since the epoch) the token counts belong to. */
  private day: number;

  constructor({ bucketMs = 10_000, buckets = 30, samplesPerBucket = 64, now = Date.now, random = Math.random }: RecentOptions = {}) {
    this.bucketMs = bucketMs;
    this.buckets = buckets;
    this.capacity = samplesPerBucket;
    this.now = now;
    this.random = random;
    this.startedAt = now();
    this.day = Math.floor(this.startedAt / DAY_MS);
  }

  /** The window's length in seconds. */
  get windowSeconds(): number {
    return (this.bucketMs * this.buckets) / 1000;
  }

  /**
   * The observer: counts a model request against the model it named (its tokens too) and each of
   * its tries against the target tried. A try is an error when it failed or the backend answered
   * 429 or 5xx, the served try also when its body broke. Time to first byte (from the request's
   * arrival, as the client felt it) is sampled for requests and served tries that did not fail.
   */
  readonly observe = (record: RequestRecord): void => {
    const label = record.modelLabel;
    if (label === null) return;
    const now = this.now();
    const index = Math.floor(now / this.bucketMs);
    this.rollDay(now);
    const failed = isError(record);
    const ttfb = failed ? null : record.ttfbMs;
    const entry = this.entry(label);
    entry.series.add(index, failed, ttfb);
    if (record.usage) {
      entry.prompt += record.usage.promptTokens;
      entry.completion += record.usage.completionTokens;
    }
    const tries = record.tries;
    const last = tries.length - 1;
    for (let i = 0; i <= last; i++) {
      const attempt = tries[i]!;
      const served = i === last && record.servedTarget === attempt.target && record.servedModel === attempt.model;
      const error = attempt.failure !== null || attempt.status >= 500 || attempt.status === 429 || (served && failed);
      const target = this.targetSeries(attempt.model === label ? entry : this.entry(attempt.model), attempt.target);
      target.add(index, error, served && !error ? record.ttfbMs : null);
    }
  };

  /** The model's figures over the window (zero when it had no request). */
  model(id: string): WindowSummary {
    return this.models.get(id)?.series.summary(this.currentIndex()) ?? EMPTY;
  }

  /** A target's figures over the window: the tries sent there (zero when none). */
  target(modelId: string, name: string): WindowSummary {
    return this.models.get(modelId)?.targets.get(name)?.summary(this.currentIndex()) ?? EMPTY;
  }

  /** Prompt and completion tokens the model's requests reported since 00:00 UTC. */
  tokensToday(id: string): TokenCount {
    this.rollDay(this.now());
    const entry = this.models.get(id);
    return { prompt: entry?.prompt ?? 0, completion: entry?.completion ?? 0 };
  }

  /**
   * Drops what can no longer show: targets and models with nothing in the window (and, for a
   * model, no tokens today). Keeps the maps bounded when models come and go (reloads, discovery).
   */
  sweep(): void {
    const oldest = this.currentIndex() - this.buckets + 1;
    for (const [id, entry] of this.models) {
      for (const [name, series] of entry.targets) if (series.newest < oldest) entry.targets.delete(name);
      if (entry.series.newest < oldest && entry.targets.size === 0 && entry.prompt === 0 && entry.completion === 0) this.models.delete(id);
    }
  }

  /** Series held (models and targets): what bounds the memory. */
  get size(): number {
    let size = 0;
    for (const entry of this.models.values()) size += 1 + entry.targets.size;
    return size;
  }

  private currentIndex(): number {
    return Math.floor(this.now() / this.bucketMs);
  }

  private entry(id: string): ModelEntry {
    let entry = this.models.get(id);
    if (!entry) this.models.set(id, (entry = new ModelEntry(this.newSeries())));
    return entry;
  }

  private targetSeries(entry: ModelEntry, name: string): Series {
    let series = entry.targets.get(name);
    if (!series) entry.targets.set(name, (series = this.newSeries()));
    return series;
  }

  private newSeries(): Series {
    return new Series(this.buckets, this.capacity, this.random);
  }

  /** At 00:00 UTC the token counts start again. */
  private rollDay(now: number): void {
    const day = Math.floor(now / DAY_MS);
    if (day === this.day) return;
    this.day = day;
    for (const entry of this.models.values()) entry.prompt = entry.completion = 0;
  }
}

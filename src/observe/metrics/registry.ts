// A small Prometheus registry: counters, gauges and histograms with labels, and families read at
// scrape time, rendered in the text exposition format (version 0.0.4). Hand-written: the request
// path pays one Map lookup by a joined key and a few additions per update; every string of the
// output (escaped label sets, bucket bounds) is built once, when a label set is first seen.

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Kind = "counter" | "gauge" | "histogram";

/** Label values, in the order of the family's label names. */
export type LabelValues = readonly string[];

/** Hands one sample of a family read at scrape time to the registry. */
export type Emit = (values: LabelValues, value: number) => void;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** `\`, `"` and line feeds escaped, as label values must be. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

/** `\` and line feeds escaped, as HELP text must be. */
const escapeHelp = (help: string) => help.replace(/[\\\n]/g, (c) => (c === "\n" ? "\\n" : "\\\\"));

/** A sample value: Go's float syntax, with Prometheus's spelling of the infinities. */
export function formatValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return Number.isNaN(value) ? "NaN" : String(value);
}

/** `{a="x",b="y"}`, or "" without labels. */
function labelSet(names: readonly string[], values: LabelValues): string {
  if (names.length === 0) return "";
  return `{${names.map((name, i) => `${name}="${escapeLabelValue(values[i] ?? "")}"`).join(",")}}`;
}

const keyOf = (values: LabelValues) => (values.length === 1 ? values[0]! : values.join("\u0000"));

abstract class Family {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly kind: Kind,
    readonly labelNames: readonly string[],
  ) {}

  header(): string {
    return `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.kind}\n`;
  }

  abstract samples(out: string[]): void;
}

/** A family whose children are kept and updated as things happen. */
abstract class Stored<Child> extends Family {
  private readonly children = new Map<string, Child>();

  /** The child for these label values, created on first use. */
  child(values: LabelValues): Child {
    const key = keyOf(values);
    let child = this.children.get(key);
    if (child === undefined) {
      if (values.length !== this.labelNames.length) {
        throw new Error(`${this.name} takes ${this.labelNames.length} label value(s), got ${values.length}`);
      }
      child = this.create(labelSet(this.labelNames, values), values);
      this.children.set(key, child);
    }
    return child;
  }

  protected abstract create(labels: string, values: LabelValues): Child;

  protected each(): Iterable<Child> {
    return this.children.values();
  }
}

export class CounterChild {
  value = 0;

  constructor(readonly labels: string) {}

  /** Adds `by` (default 1); a negative or non-finite amount is ignored: a counter never goes down. */
  inc(by = 1): void {
    if (by >= 0 && by !== Infinity) this.value += by;
  }
}

export class Counter extends Stored<CounterChild> {
  constructor(name: string, help: string, labelNames: readonly string[]) {
    super(name, help, "counter", labelNames);
    if (labelNames.length === 0) this.child([]);
  }

  inc(values: LabelValues, by = 1): void {
    this.child(values).inc(by);
  }

  protected create(labels: string): CounterChild {
    return new CounterChild(labels);
  }

  samples(out: string[]): void {
    for (const child of this.each()) out.push(`${this.name}${child.labels} ${formatValue(child.value)}\n`);
  }
}

export class GaugeChild {
  value = 0;

  constructor(readonly labels: string) {}

  set(value: number): void {
    this.value = value;
  }

  inc(by = 1): void {
    this.value += by;
  }

  dec(by = 1): void {
    this.value -= by;
  }
}

export class Gauge extends Stored<GaugeChild> {
  constructor(name: string, help: string, labelNames: readonly string[]) {
    super(name, help, "gauge", labelNames);
    if (labelNames.length === 0) this.child([]);
  }

  set(values: LabelValues, value: number): void {
    this.child(values).set(value);
  }

  protected create(labels: string): GaugeChild {
    return new GaugeChild(labels);
  }

  samples(out: string[]): void {
    for (const child of this.each()) out.push(`${this.name}${child.labels} ${formatValue(child.value)}\n`);
  }
}

export class HistogramChild {
  /** Observations per bucket (not cumulative: summed when rendered); the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    private readonly bounds: readonly number[],
    /** `name_bucket{labels,le="` for each bound, then +Inf, built once. */
    readonly bucketPrefixes: readonly string[],
    readonly labels: string,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    if (Number.isNaN(value)) return;
    const { bounds } = this;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

export class Histogram extends Stored<HistogramChild> {
  readonly bounds: readonly number[];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(name, help, "histogram", labelNames);
    if (labelNames.includes("le")) throw new Error(`${name}: a histogram cannot have an "le" label`);
    if (buckets.length === 0 || buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]!))) {
      throw new Error(`${name}: buckets must be finite and strictly increasing`);
    }
    this.bounds = [...buckets];
    if (labelNames.length === 0) this.child([]);
  }

  observe(values: LabelValues, value: number): void {
    this.child(values).observe(value);
  }

  protected create(labels: string, values: LabelValues): HistogramChild {
    const inner = this.labelNames.map((name, i) => `${name}="${escapeLabelValue(values[i]!)}",`).join("");
    const prefixes = [...this.bounds.map(formatValue), "+Inf"].map((le) => `${this.name}_bucket{${inner}le="${le}"} `);
    return new HistogramChild(this.bounds, prefixes, labels);
  }

  samples(out: string[]): void {
    for (const child of this.each()) {
      let cumulative = 0;
      for (let i = 0; i < child.counts.length; i++) {
        cumulative += child.counts[i]!;
        out.push(`${child.bucketPrefixes[i]}${formatValue(cumulative)}\n`);
      }
      out.push(`${this.name}_sum${child.labels} ${formatValue(child.sum)}\n`);
      out.push(`${this.name}_count${child.labels} ${formatValue(child.count)}\n`);
    }
  }
}

/** A counter or gauge family whose samples are read when scraped. */
class Collected extends Family {
  constructor(
    name: string,
    help: string,
    kind: "counter" | "gauge",
    labelNames: readonly string[],
    private readonly collect: (emit: Emit) => void,
  ) {
    super(name, help, kind, labelNames);
  }

  samples(out: string[]): void {
    const seen = new Set<string>();
    this.collect((values, value) => {
      if (values.length !== this.labelNames.length || !Number.isFinite(value)) return;
      const labels = labelSet(this.labelNames, values);
      if (seen.has(labels)) return; // a label set appears once per scrape
      seen.add(labels);
      out.push(`${this.name}${labels} ${formatValue(value)}\n`);
    });
  }
}

/**
 * Every metric family of one server, in the order registered. Names are checked when registered
 * (a duplicate or malformed name is a programming error and throws); a family read at scrape time
 * that throws is left without samples for that scrape and reported to `onError`.
 */
export class MetricsRegistry {
  private readonly families: Family[] = [];
  private readonly names = new Set<string>();

  constructor(private readonly onError: (error: unknown, name: string) => void = () => {}) {}

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.add(new Counter(name, help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.add(new Gauge(name, help, labelNames));
  }

  histogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, labelNames, buckets));
  }

  /** A counter without labels read when scraped (e.g. a module's own running count). Null: no sample this time. */
  counterFn(name: string, help: string, read: () => number | null): void {
    this.collect(name, help, "counter", [], (emit) => {
      const value = read();
      if (value !== null) emit([], value);
    });
  }

  /** A gauge without labels read when scraped. Null: no sample this time. */
  gaugeFn(name: string, help: string, read: () => number | null): void {
    this.collect(name, help, "gauge", [], (emit) => {
      const value = read();
      if (value !== null) emit([], value);
    });
  }

  /** A labeled counter or gauge family whose samples `collect` emits when scraped. */
  collect(name: string, help: string, kind: "counter" | "gauge", labelNames: readonly string[], collect: (emit: Emit) => void): void {
    this.add(new Collected(name, help, kind, labelNames, collect));
  }

  /** The whole exposition, in the text format. */
  render(): string {
    const out: string[] = [];
    for (const family of this.families) {
      out.push(family.header());
      const mark = out.length;
      try {
        family.samples(out);
      } catch (error) {
        out.length = mark;
        this.onError(error, family.name);
      }
    }
    return out.join("");
  }

  private add<F extends Family>(family: F): F {
    const { name, labelNames } = family;
    if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name: ${JSON.stringify(name)}`);
    for (const label of labelNames) {
      if (!LABEL_NAME.test(label) || label.startsWith("__")) throw new Error(`${name}: invalid label name ${JSON.stringify(label)}`);
    }
    if (new Set(labelNames).size !== labelNames.length) throw new Error(`${name}: a label name appears twice`);
    const taken = family.kind === "histogram" ? [name, `${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];
    if (taken.some((n) => this.names.has(n))) throw new Error(`metric registered twice: ${name}`);
    for (const n of taken) this.names.add(n);
    this.families.push(family);
    return family;
  }
}

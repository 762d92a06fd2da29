import type { Logger } from "../lib/log";
import { backendAuthHeaders, modelListUrl, type DiscoverySource } from "../model/model";

interface Listing {
  readonly fingerprint: string;
  readonly ids: readonly string[];
  readonly failing: boolean;
}

/** How long one listing may take. */
const LIST_TIMEOUT_MS = 10_000;

/**
 * Lists each source's backend (`GET <url>/v1/models`) at start, on reload and every `refreshMs`.
 * A refresh that fails keeps the last good list and is logged once until one succeeds again.
 * `onChange` is called whenever a list really changed.
 */
export class Discovery {
  private readonly listings = new Map<string, Listing>();
  private readonly timers = new Map<string, Timer>();
  /** The sources in force: a listing of one that a reload replaced meanwhile is dropped. */
  private current = new Map<string, DiscoverySource>();
  /** Each source's listing under way. */
  private readonly running = new Map<DiscoverySource, Promise<void>>();

  constructor(
    private readonly log: Logger,
    private readonly onChange: () => void,
  ) {}

  /** Backend ids per source id, as last listed. */
  get lists(): ReadonlyMap<string, readonly string[]> {
    return new Map([...this.listings].map(([id, listing]) => [id, listing.ids]));
  }

  /**
   * Follows a new set of sources: forgets the lists of removed and changed ones and re-arms the
   * timers before it returns, then lists every source now (the promise). Not async, so a caller
   * rebuilding the catalog right after never sees a list the old URL, key or filters made.
   */
  sync(sources: readonly DiscoverySource[]): Promise<void> {
    this.stop();
    this.current = new Map(sources.map((source) => [source.id, source]));
    for (const [id, listing] of this.listings) {
      if (this.current.get(id)?.fingerprint !== listing.fingerprint) this.listings.delete(id);
    }
    for (const source of sources) {
      const timer = setInterval(() => void this.refresh(source), source.refreshMs);
      timer.unref();
      this.timers.set(source.id, timer);
    }
    return Promise.all(sources.map((source) => this.refresh(source))).then(() => {});
  }

  /** Stops the refresh timers (the lists stay). */
  stop(): void {
    for (const timer of this.timers.values()) clearInterval(timer);
    this.timers.clear();
  }

  /**
   * Lists `source` now; a listing of it still under way (a slow backend, a short refreshMs) is joined
   * rather than doubled, so answers can never land out of order.
   */
  refresh(source: DiscoverySource): Promise<void> {
    const running = this.running.get(source);
    if (running) return running;
    const listing = this.list(source).finally(() => this.running.delete(source));
    this.running.set(source, listing);
    return listing;
  }

  private async list(source: DiscoverySource): Promise<void> {
    let ids: string[] | null = null;
    let failure = "";
    try {
      ids = (await listModels(source)).filter((id) => source.include.matches(id) && !source.exclude.matches(id));
    } catch (error) {
      failure = (error as Error).message;
    }
    if (this.current.get(source.id) !== source) return; // a reload replaced the source meanwhile
    const previous = this.listings.get(source.id);
    if (ids === null) {
      if (previous?.failing) return;
      const kept = previous ? `keeping the last ${previous.ids.length} models` : "no models from it yet";
      this.log.warn(`discovery '${source.id}': listing models failed (${failure}); ${kept}`, { source: source.id, error: failure });
      this.listings.set(source.id, { fingerprint: source.fingerprint, ids: previous?.ids ?? [], failing: true });
      return;
    }
    if (previous?.failing) this.log.info(`discovery '${source.id}': listing models works again`, { source: source.id });
    this.listings.set(source.id, { fingerprint: source.fingerprint, ids, failing: false });
    const changed = !previous || previous.ids.length !== ids.length || previous.ids.some((id, i) => id !== ids[i]);
    if (changed) this.onChange();
  }
}

/** The ids a backend lists at `/v1/models`, in its order; the message of a failure never holds the URL. */
async function listModels(source: DiscoverySource): Promise<string[]> {
  const target = source.template.targets[0]!;
  let response: Response;
  try {
    response = await fetch(modelListUrl(target), {
      headers: backendAuthHeaders(target),
      // A redirect is a failed listing: fetch would carry the key headers (all but Authorization) to wherever it points.
      redirect: "manual",
      signal: AbortSignal.timeout(Math.min(LIST_TIMEOUT_MS, target.timeouts.firstByteMs)),
    });
  } catch (error) {
    const code = (error as { code?: unknown; name?: string })?.code ?? (error as Error)?.name;
    throw new Error(typeof code === "string" ? code : "connection failed");
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`HTTP ${response.status}`);
  }
  const body = (await response.json().catch(() => null)) as { data?: unknown; models?: unknown } | unknown[] | null;
  // Gemini lists `models: [{ name: "models/<id>" }]` (its first page: up to 50); everyone else OpenAI's `data: [{ id }]`.
  const gemini = target.provider === "gemini" && !Array.isArray(body) && Array.isArray(body?.models);
  const list = Array.isArray(body) ? body : gemini ? (body!.models as unknown[]) : Array.isArray(body?.data) ? body.data : null;
  if (!list) throw new Error("the answer is not a model list");
  const idOf = (entry: unknown) => {
    const id = gemini ? (entry as { name?: unknown })?.name : (entry as { id?: unknown })?.id;
    return typeof id === "string" && gemini ? id.replace(/^models\//, "") : id;
  };
  const ids = list.map(idOf).filter((id): id is string => typeof id === "string" && id !== "");
  return [...new Set(ids)];
}

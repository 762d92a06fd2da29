import { USAGE_QUERY_WORKER } from "../../workers";
import type { StoreGroupBy, UsageGroup, UsageRange } from "./store";

export interface UsageQueryRequest {
  readonly id: number;
  readonly path: string;
  readonly range: UsageRange;
  readonly groupBy: StoreGroupBy;
}

export type UsageQueryAnswer = { readonly id: number; readonly groups: UsageGroup[] } | { readonly id: number; readonly error: string };

interface Waiting {
  resolve(groups: UsageGroup[]): void;
  reject(error: Error): void;
}

/**
 * Runs the `/usage` queries of one SQLite usage file on a worker thread, so the event loop that
 * relays requests never waits on them. The thread starts at the first query, does not keep the
 * process alive, and is started again should it die (its queries then fail, the next ones work).
 */
export class UsageQueryThread {
  private worker: Worker | null = null;
  private lastId = 0;
  private readonly waiting = new Map<number, Waiting>();

  constructor(
    private readonly path: string,
    private readonly code: URL = USAGE_QUERY_WORKER,
  ) {}

  query(range: UsageRange, groupBy: StoreGroupBy): Promise<UsageGroup[]> {
    const worker = this.worker ?? this.start();
    const id = ++this.lastId;
    return new Promise<UsageGroup[]>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, path: this.path, range, groupBy } satisfies UsageQueryRequest);
    });
  }

  close(): void {
    this.stop(new Error("the usage store is closed"));
  }

  private start(): Worker {
    const worker = new Worker(this.code);
    worker.unref();
    worker.onmessage = ({ data }: MessageEvent<UsageQueryAnswer>) => {
      const waiting = this.waiting.get(data.id);
      this.waiting.delete(data.id);
      if ("error" in data) waiting?.reject(new Error(data.error));
      else waiting?.resolve(data.groups);
    };
    worker.onerror = (event) => {
      event.preventDefault(); // the thread's failure is the queries', not the process's
      this.stop(new Error(`the usage query thread failed: ${event.message}`));
    };
    return (this.worker = worker);
  }

  private stop(reason: Error): void {
    this.worker?.terminate();
    this.worker = null;
    for (const waiting of this.waiting.values()) waiting.reject(reason);
    this.waiting.clear();
  }
}

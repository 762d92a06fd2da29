// The signed thinking of Anthropic answers that called tools, kept under those tool calls' ids
// until the client's next turn replays the calls (OpenAI clients drop the thinking blocks, and with
// thinking on the API refuses a tool loop without them). In this process's memory, bounded in turns
// and characters, each kept for an hour; with `shared` (Redis, when `state.redis` is set) also where
// every instance finds it, so a next turn that lands on another instance still has it. What is found
// nowhere is sent without thinking (request.ts turns it off rather than be refused).
import type { ThinkingLookup } from "./conversation";
import type { ReplayedThinking, SignedThinking } from "./types";

/** Where every instance keeps and finds thinking. Never throws: an outage only means no thinking. */
export interface SharedThinking {
  save(ids: readonly string[], blocks: readonly ReplayedThinking[], ttlMs: number): void;
  /** The turn kept under `id` (all its tool calls' ids, and its blocks), or null. */
  load(id: string): Promise<{ readonly ids: readonly string[]; readonly blocks: readonly ReplayedThinking[] } | null>;
}

export interface ThinkingStoreOptions {
  readonly shared?: SharedThinking;
  /** How long a turn's thinking is kept. */
  readonly ttlMs?: number;
  /** Turns kept at most; the oldest go first. */
  readonly maxTurns?: number;
  /** Characters of thinking (text, signatures, redacted data) kept at most; the oldest turns go first. */
  readonly maxChars?: number;
  readonly now?: () => number;
}

interface Kept {
  readonly ids: readonly string[];
  readonly blocks: readonly ReplayedThinking[];
  readonly expires: number;
  readonly chars: number;
}

const HOUR_MS = 60 * 60 * 1000;

const charsOf = (blocks: readonly ReplayedThinking[]) =>
  blocks.reduce((sum, block) => sum + (block.type === "thinking" ? block.thinking.length + block.signature.length : block.data.length), 0);

export class ThinkingStore {
  private readonly ttlMs: number;
  private readonly maxTurns: number;
  private readonly maxChars: number;
  private readonly now: () => number;
  private readonly shared: SharedThinking | null;
  private readonly byId = new Map<string, Kept>();
  /** Every kept turn, oldest first (insertion order is expiry order: every turn lives as long). */
  private readonly turns = new Set<Kept>();
  private chars = 0;

  constructor(options: ThinkingStoreOptions = {}) {
    this.ttlMs = options.ttlMs ?? HOUR_MS;
    this.maxTurns = options.maxTurns ?? 10_000;
    this.maxChars = options.maxChars ?? 32 * 1024 * 1024;
    this.now = options.now ?? Date.now;
    this.shared = options.shared ?? null;
  }

  /** Keeps a turn's signed thinking under each of its tool-call ids (nothing when there is none). */
  keep(signed: SignedThinking | null): void {
    if (!signed || signed.toolCallIds.length === 0 || signed.blocks.length === 0) return;
    this.remember(signed.toolCallIds, signed.blocks, this.ttlMs);
    this.shared?.save(signed.toolCallIds, signed.blocks, this.ttlMs);
  }

  /**
   * Brings the thinking of these tool calls into memory from the shared store, for those not kept
   * here (a turn answered by another instance). Resolves when done; never rejects.
   */
  async fetch(toolCallIds: readonly string[]): Promise<void> {
    const shared = this.shared;
    if (!shared) return;
    this.prune();
    const missing = toolCallIds.filter((id) => !this.byId.has(id));
    for (const id of missing) {
      if (this.byId.has(id)) continue; // an earlier id of the same turn brought it
      const turn = await shared.load(id);
      if (turn) this.remember(turn.ids, turn.blocks, this.ttlMs);
    }
  }

  private remember(ids: readonly string[], blocks: readonly ReplayedThinking[], ttlMs: number): void {
    const kept: Kept = { ids: [...ids], blocks, expires: this.now() + ttlMs, chars: charsOf(blocks) };
    if (kept.chars > this.maxChars) return;
    for (const id of kept.ids) {
      const old = this.byId.get(id);
      if (old) this.drop(old);
      this.byId.set(id, kept);
    }
    this.turns.add(kept);
    this.chars += kept.chars;
    this.prune();
  }

  /** The thinking kept for a turn that made these tool calls; undefined when none is (or it expired). */
  readonly lookup: ThinkingLookup = (toolCallIds) => {
    this.prune();
    for (const id of toolCallIds) {
      const kept = this.byId.get(id);
      if (kept) return kept.blocks;
    }
    return undefined;
  };

  /** Turns kept now. */
  get size(): number {
    return this.turns.size;
  }

  private prune(): void {
    const now = this.now();
    for (const oldest of this.turns) {
      if (oldest.expires > now && this.turns.size <= this.maxTurns && this.chars <= this.maxChars) break;
      this.drop(oldest);
    }
  }

  private drop(kept: Kept): void {
    if (!this.turns.delete(kept)) return;
    this.chars -= kept.chars;
    for (const id of kept.ids) if (this.byId.get(id) === kept) this.byId.delete(id);
  }
}

// The vocabulary of limits, shared by the config that sets them and the limiter that applies them.

/** What a limit counts. */
export type LimitKind = "rpm" | "tpm" | "concurrent" | "tokensPerDay" | "usdPerDay" | "usdPerMonth";
/** Whom a limit applies to. */
export type LimitScope = "client" | "user" | "model";

/** One limit as a config sets it: any of the kinds, each optional. Budgets are US dollars. */
export interface LimitSet {
  readonly rpm?: number;
  readonly tpm?: number;
  readonly concurrent?: number;
  readonly tokensPerDay?: number;
  readonly usdPerDay?: number;
  readonly usdPerMonth?: number;
}

/** Whether a limit set holds a budget in dollars. */
export const hasBudget = (set: LimitSet | undefined) => set?.usdPerDay !== undefined || set?.usdPerMonth !== undefined;

/** Whether a limit set counts a calendar window's total (a budget in dollars, or tokens per day): what a restart must read back. */
export const countsWindowTotal = (set: LimitSet | undefined) => hasBudget(set) || set?.tokensPerDay !== undefined;

// What a backend reported an answer cost, in tokens.

/** Token counts a backend reported for one request. */
export interface Usage {
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly totalTokens: number;
}

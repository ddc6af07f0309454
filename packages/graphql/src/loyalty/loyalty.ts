// Filled in by the scoring issue.
export {};

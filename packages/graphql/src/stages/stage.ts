// Filled in by the stages issue.
export {};

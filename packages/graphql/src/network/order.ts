// Filled in by the timeline / import work of the network issue.
export {};

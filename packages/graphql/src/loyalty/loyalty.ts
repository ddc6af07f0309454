// Loyalty scoring (domain §4): snapshots on parties, analytics, runs and the runScoring mutation.
import './snapshot';
import './analytics';
import './runs';

// Loyalty scoring (domain §4): snapshots on parties, analytics, runs and the runScoring mutation.
import './snapshot';
import './membership';
import './analytics';
import './runs';

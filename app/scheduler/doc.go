// Package scheduler is Pink's leader: while its node holds leadership it
// plans the next fire time of every active job, fires jobs on time, applies
// the misfire, overlap, retry and timeout policies, routes runs to live
// workers, moves the runs of dead workers, and prunes history. Every write
// it makes is fenced by its leadership's token, and it stops at the first
// write refused with domain.ErrNotLeader.
//
// The pipeline:
//
//	planner (heap of next fire times, one entry per active job)
//	  -> due fires, taken in batches
//	  -> fire writes: overlap policy, routing, shards, broadcast
//	  -> FireStore.CreateFires (fenced, create-if-absent per fire), up to
//	     4 batches in flight, written by goroutines of the term
//	  -> workers run them; their results come back through the run watch
//	  -> pending runs dispatched in bounded turns; retries, timeouts and
//	     worker failover by LeaderUpdateRun (fenced)
//
// A term's state belongs to its loop goroutine; the goroutines it starts
// (CreateFires writers, the pruner) only call the store and hand results
// back, and end with the term (docs/adr/0015-leader-loop-concurrency.md).
//
// A Scheduler runs terms one after another: Campaign, lead until the term
// ends, campaign again, until its context is cancelled, when it resigns so
// a follower takes over at once.
package scheduler

package domain_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/pink-scheduler/pink/domain"
)

// A job is normalized (defaults filled) and then validated; a bad field is
// named in the error.
func ExampleJob_Validate() {
	j := domain.Job{ID: "nightly-report", Group: "reports", Name: "Nightly report",
		Schedule: "0 2 * * *", Timezone: "Europe/Berlin", Handler: "report.nightly"}
	j.Normalize()
	fmt.Println(j.Validate(0), j.Route, j.Retry.MaxAttempts, j.Timeout)

	j.Retry.MaxAttempts = 50
	err := j.Validate(0)
	fmt.Println(errors.Is(err, domain.ErrInvalid), domain.FieldOf(err))
	// Output:
	// <nil> round_robin 3 1h0m0s
	// true retry.max_attempts
}

// Fire IDs are derived from the job and the nominal time, so a fire can be
// created only once, and they sort by time.
func ExampleFireID() {
	nominal := time.Date(2026, 11, 26, 16, 43, 0, 0, time.UTC)
	id := domain.FireID("nightly-report", nominal)
	fmt.Println(id)
	fmt.Println(domain.RunID(id, 0))

	job, at, err := domain.ParseFireID(id)
	fmt.Println(job, at, err)
	// Output:
	// 20261126T164300.000Z~nightly-report
	// 20261126T164300.000Z~nightly-report~0
	// nightly-report 2026-11-26 16:43:00 +0000 UTC <nil>
}

// After an outage, the misfire policy decides which missed fires run.
func ExamplePlanCatchUp() {
	s, _ := domain.ParseSchedule("*/10 * * * * *", "") // every 10 seconds
	since := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	now := since.Add(time.Minute)

	cu := domain.PlanCatchUp(s, since, now, domain.Misfire{Policy: domain.MisfireFireOnce, Window: domain.Duration(30 * time.Second)})
	fmt.Println("fire:", len(cu.Fire), cu.Fire[0].Format(time.TimeOnly))
	fmt.Println("skip:", len(cu.Skip), cu.Skip[0].Format(time.TimeOnly))
	// Output:
	// fire: 1 12:01:00
	// skip: 5 12:00:10
}

// A run moves through its states; a failed attempt with attempts left goes
// back to pending with the next attempt number.
func ExampleRun_Finish() {
	j := domain.Job{ID: "j", Group: "g", Name: "n", Schedule: "@hourly", Handler: "h"}
	j.Normalize()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	f := domain.Fire{ID: domain.FireID(j.ID, now), JobID: j.ID, Nominal: now, Kind: domain.FireScheduled}
	r := domain.NewRun(&j, &f, 0, now)

	_ = r.Assign("w1", now)
	_ = r.Start("w1", 1, now)
	_ = r.Finish(domain.Report{WorkerID: "w1", Attempt: 1, State: domain.RunFailed, Error: "boom"}, 0, now)
	fmt.Println(r.State, r.Attempt, r.PreviousWorkers())

	err := r.Finish(domain.Report{WorkerID: "w1", Attempt: 1, State: domain.RunSucceeded}, 0, now)
	fmt.Println(errors.Is(err, domain.ErrStaleAttempt))
	// Output:
	// pending 2 [w1]
	// true
}

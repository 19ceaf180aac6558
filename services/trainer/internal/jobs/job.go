// Package jobs keeps the trainer's training jobs in the NATS KV bucket
// tributary_jobs and decides which replica runs which job:
//
//	jobs.<job id>    the Job record: request, status, owner and lease, the
//	                 steps with their attempts, the outputs of finished
//	                 steps, the policy's decision, the error and a log tail
//	queue.<model>    the model's Queue: the active job and the one pending
//	                 follow-up that later triggers collapse into
//
// Every write is a compare-and-set on the entry's revision. A job record is
// created once per job id, so a redelivered request starts no second job;
// a model has at most one active job; a job is run by the replica that
// holds its lease, and one whose owner stopped renewing the lease is
// claimed by another replica (or the same after a restart) and resumes at
// the first step that had not finished.
package jobs

import (
	"time"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/model"
)

// Status is a job's state.
type Status string

// Statuses.
const (
	StatusQueued    Status = "queued"    // waiting to start (or for the model's active job to end)
	StatusRunning   Status = "running"   // a replica holds its lease
	StatusSucceeded Status = "succeeded" // registered a version and applied the policy
	StatusFailed    Status = "failed"    // see Error, Reason and FailedStep
	StatusCollapsed Status = "collapsed" // merged into CollapsedInto, the model's follow-up job
)

// Terminal reports whether a job in s has ended.
func (s Status) Terminal() bool {
	return s == StatusSucceeded || s == StatusFailed || s == StatusCollapsed
}

// Step names.
const (
	StepDataset  = "dataset"  // build the training set (features service)
	StepTrain    = "train"    // fit the model on a runner
	StepEvaluate = "evaluate" // candidate and production on the holdout, reference distributions
	StepRegister = "register" // the version with its lineage (registry)
	StepPromote  = "promote"  // apply the promotion policy
)

// StepNames lists the steps in order.
func StepNames() []string {
	return []string{StepDataset, StepTrain, StepEvaluate, StepRegister, StepPromote}
}

// StepStatus is a step's state.
type StepStatus string

// Step statuses.
const (
	StepPending StepStatus = "pending"
	StepRunning StepStatus = "running"
	StepDone    StepStatus = "done"
	StepFailed  StepStatus = "failed"
)

// Step is one step of a job.
type Step struct {
	Name      string     `json:"name"`
	Status    StepStatus `json:"status"`
	Attempts  int        `json:"attempts"`
	StartedAt time.Time  `json:"started_at,omitzero"`
	EndedAt   time.Time  `json:"ended_at,omitzero"`
	// Error is the last attempt's error.
	Error string `json:"error,omitempty"`
}

// Request asks for a job.
type Request struct {
	JobID       string            `json:"job_id"`
	Model       string            `json:"model"`
	Trigger     event.Trigger     `json:"trigger"`
	Reason      string            `json:"reason,omitempty"`
	RequestedBy string            `json:"requested_by,omitempty"`
	Runner      string            `json:"runner,omitempty"`
	Params      map[string]string `json:"params,omitempty"`
}

// Job is a training job's record.
type Job struct {
	Request
	Status    Status    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	StartedAt time.Time `json:"started_at,omitzero"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	// Deadline is set when the job first starts (StartedAt plus the
	// spec's deadline); a job past it is failed.
	Deadline time.Time `json:"deadline,omitzero"`

	// Owner is the replica that holds the lease until LeaseUntil;
	// Claims counts the claims (more than one: the job was resumed).
	Owner      string    `json:"owner,omitempty"`
	LeaseUntil time.Time `json:"lease_until,omitzero"`
	Claims     int       `json:"claims,omitempty"`

	Steps []Step `json:"steps"`

	// Outputs of the steps, so that a resumed job does not redo them.
	SpecVersion  string              `json:"spec_version,omitempty"`
	LabelsFrom   time.Time           `json:"labels_from,omitzero"`
	LabelsTo     time.Time           `json:"labels_to,omitzero"`
	Dataset      *event.DatasetReady `json:"dataset,omitempty"`
	Artifact     *model.Artifact     `json:"artifact,omitempty"`
	Format       string              `json:"format,omitempty"`
	TrainMetrics map[string]float64  `json:"train_metrics,omitempty"`
	Evaluation   *Evaluation         `json:"evaluation,omitempty"`
	Version      int                 `json:"version,omitempty"`
	Decision     *Decision           `json:"decision,omitempty"`

	// Error says why the job failed; Failure is a stable id
	// (bad_input, deadline_exceeded, error); FailedStep the step it
	// stopped at.
	Error      string `json:"error,omitempty"`
	Failure    string `json:"failure,omitempty"`
	FailedStep string `json:"failed_step,omitempty"`

	// CollapsedInto is the follow-up job a collapsed trigger was merged
	// into; Collapsed lists the jobs merged into this one.
	CollapsedInto string   `json:"collapsed_into,omitempty"`
	Collapsed     []string `json:"collapsed,omitempty"`

	// Log is the tail of the job's log (steps and runner output).
	Log string `json:"log,omitempty"`
}

// Step returns the named step.
func (j *Job) Step(name string) *Step {
	for i := range j.Steps {
		if j.Steps[i].Name == name {
			return &j.Steps[i]
		}
	}
	return nil
}

// Failure reasons.
const (
	ReasonBadInput = "bad_input"         // retrying cannot help: the spec, the data, the trainer
	ReasonDeadline = "deadline_exceeded" // the job ran past its deadline
	ReasonError    = "error"             // a transient error outlasted the retries
)

// Evaluation is the evaluate step's output: the candidate's and the
// production model's holdout metrics, and the reference distributions.
type Evaluation struct {
	HoldoutRows int                `json:"holdout_rows"`
	TrainRows   int                `json:"train_rows"`
	Metrics     map[string]float64 `json:"metrics"`
	// ProductionVersion is 0 when there was no production model;
	// ProductionMetrics are its figures on the same holdout, and
	// ProductionNote says why there are none when it exists.
	ProductionVersion int                `json:"production_version,omitempty"`
	ProductionMetrics map[string]float64 `json:"production_metrics,omitempty"`
	ProductionNote    string             `json:"production_note,omitempty"`
	Reference         model.Reference    `json:"reference"`
	// Categorical are the vocabularies of the candidate's categorical
	// features (from its model file), recorded in its lineage.
	Categorical map[string]model.Vocabulary `json:"categorical,omitempty"`
}

// Decision is what the promotion policy decided, with its figures.
type Decision struct {
	Policy string `json:"policy"`
	// Action is "promote" (production moved), "canary" (canary moved)
	// or "none".
	Action            string   `json:"action"`
	Alias             string   `json:"alias,omitempty"`
	Weight            *float64 `json:"weight,omitempty"`
	Metric            string   `json:"metric"`
	Candidate         float64  `json:"candidate"`
	Production        *float64 `json:"production,omitempty"`
	ProductionVersion int      `json:"production_version,omitempty"`
	Margin            float64  `json:"margin,omitempty"`
	Reason            string   `json:"reason"`
	// Moved is set once the alias was moved.
	Moved bool      `json:"moved,omitempty"`
	At    time.Time `json:"at"`
}

// Queue is a model's queue record.
type Queue struct {
	Model string `json:"model"`
	// Active is the job that runs (or will run next); Pending the
	// follow-up that starts when it ends.
	Active  string `json:"active,omitempty"`
	Pending string `json:"pending,omitempty"`
	// Last is the last job that ended.
	Last string `json:"last,omitempty"`
}

// Package natsapi answers the registry's NATS request-reply API (subjects,
// request and reply shapes in libs/model) in the queue group
// model.QueueGroup, so that the registry's replicas share the requests.
package natsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	ce "github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/model"
	"github.com/tributary-ml/tributary/services/registry/internal/registry"
)

// requestTimeout bounds the handling of one request (a registration reads
// its whole artifact).
const requestTimeout = 2 * time.Minute

// maxInFlight bounds the requests handled at once by one replica.
const maxInFlight = 32

// Server answers the request-reply API.
type Server struct {
	reg    *registry.Registry
	prefix string
	logger *slog.Logger
}

// New returns a server; prefix is the test resource prefix of the subjects.
func New(reg *registry.Registry, prefix string, logger *slog.Logger) *Server {
	return &Server{reg: reg, prefix: prefix, logger: logger}
}

// Run subscribes to every verb's subject and answers until ctx ends, then
// unsubscribes and waits for the requests in flight.
func (s *Server) Run(ctx context.Context, nc *nats.Conn) error {
	var (
		wg sync.WaitGroup
		// mu orders every wg.Add before the wg.Wait of the shutdown: a
		// callback still running after the unsubscribe (nats.go does not
		// wait for it) sees closing and drops its message instead.
		mu      sync.Mutex
		closing bool
	)
	sem := make(chan struct{}, maxInFlight)
	var subs []*nats.Subscription
	defer func() {
		for _, sub := range subs {
			_ = sub.Unsubscribe()
		}
		mu.Lock()
		closing = true
		mu.Unlock()
		wg.Wait()
	}()
	for _, verb := range model.Verbs() {
		subject := model.Subject(s.prefix, verb)
		sub, err := nc.QueueSubscribe(subject, model.QueueGroup, func(m *nats.Msg) {
			mu.Lock()
			if closing {
				mu.Unlock()
				return // the requester times out and retries another replica
			}
			wg.Add(1)
			mu.Unlock()
			sem <- struct{}{} // bounded concurrency: the subscription's pending buffer holds the rest
			go func() {
				defer func() { <-sem; wg.Done() }()
				s.handle(context.WithoutCancel(ctx), verb, m)
			}()
		})
		if err != nil {
			return fmt.Errorf("subscribe %s: %w", subject, err)
		}
		subs = append(subs, sub)
	}
	s.logger.Info("nats api listening", "subject", model.Subject(s.prefix, ">"), "queue", model.QueueGroup)
	<-ctx.Done()
	return nil
}

func (s *Server) handle(ctx context.Context, verb string, m *nats.Msg) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	result, err := s.dispatch(ctx, verb, m)
	var r model.Reply
	if err != nil {
		if model.CodeOf(err) == model.CodeInternal {
			s.logger.Error("nats request failed", "verb", verb, "err", err)
		}
		r.Error = toError(err)
	} else if r.Result, err = json.Marshal(result); err != nil {
		r.Error = toError(fmt.Errorf("encode result: %w", err))
	}
	if m.Reply == "" {
		return
	}
	e := ce.New()
	e.SetID(fmt.Sprintf("%s-%d", verb, time.Now().UnixNano()))
	e.SetSource("/tributary/registry")
	e.SetType(model.ReplyType)
	if err := e.SetData(ce.ApplicationJSON, r); err != nil {
		s.logger.Error("encode nats reply", "verb", verb, "err", err)
		return
	}
	out, err := event.ToNATSMsg(e, m.Reply)
	if err != nil {
		s.logger.Error("encode nats reply", "verb", verb, "err", err)
		return
	}
	if err := m.RespondMsg(out); err != nil {
		s.logger.Warn("nats reply not sent", "verb", verb, "err", err)
	}
}

// toError is the wire form of err: its *model.Error, or an internal error
// with err's message.
func toError(err error) *model.Error {
	var e *model.Error
	if errors.As(err, &e) {
		return e
	}
	return &model.Error{Code: model.CodeInternal, Message: err.Error()}
}

// decode decodes a request's data strictly, like the HTTP API: unknown
// fields and trailing data are refused, and counted as a rejection of the
// verb's operation.
func decode[T any](s *Server, verb string, m *nats.Msg) (T, error) {
	var v T
	e, err := event.FromNATSMsg(m)
	if err != nil {
		return v, s.reg.Reject(operations[verb], model.Errorf(model.CodeInvalidRequest, "request is not a CloudEvent: %v", err))
	}
	if err := model.UnmarshalStrict(e.Data(), &v); err != nil {
		return v, s.reg.Reject(operations[verb], model.Errorf(model.CodeInvalidRequest, "request data: %v", err))
	}
	return v, nil
}

// operations are the metric's operation names of the verbs.
var operations = map[string]string{
	model.VerbRegister: "register", model.VerbModels: "models", model.VerbModel: "model",
	model.VerbVersions: "versions", model.VerbVersion: "version", model.VerbAlias: "move_alias",
	model.VerbDeleteAlias: "delete_alias", model.VerbRollback: "rollback", model.VerbArchive: "archive",
	model.VerbAudit: "audit",
}

func (s *Server) dispatch(ctx context.Context, verb string, m *nats.Msg) (any, error) {
	switch verb {
	case model.VerbRegister:
		req, err := decode[model.RegisterRequest](s, verb, m)
		if err != nil {
			return nil, err
		}
		return s.reg.Register(ctx, req)
	case model.VerbModels:
		return s.reg.Models(ctx)
	case model.VerbModel:
		req, err := decode[model.ModelRequest](s, verb, m)
		if err != nil {
			return nil, err
		}
		return s.reg.Model(ctx, req.Model)
	case model.VerbVersions:
		req, err := decode[model.ModelRequest](s, verb, m)
		if err != nil {
			return nil, err
		}
		return s.reg.Versions(ctx, req.Model)
	case model.VerbVersion:
		req, err := decode[model.VersionRequest](s, verb, m)
		if err != nil {
			return nil, err
		}
		return s.reg.Version(ctx, req.Model, req.Version)
	case model.VerbDeleteAlias:
		req, err := decode[model.DeleteAliasRequest](s, verb, m)
		if err != nil {
			return nil, err
		}
		return s.reg.DeleteAlias(ctx, req)
	case model.VerbAlias:
		req, err := decode[model.MoveAliasRequest](s, verb, m)
		if err != nil {
			return nil, err
		}
		return s.reg.MoveAlias(ctx, req)
	case model.VerbRollback:
		req, err := decode[model.RollbackRequest](s, verb, m)
		if err != nil {
			return nil, err
		}
		return s.reg.Rollback(ctx, req)
	case model.VerbArchive:
		req, err := decode[model.ArchiveRequest](s, verb, m)
		if err != nil {
			return nil, err
		}
		return s.reg.Archive(ctx, req)
	case model.VerbAudit:
		req, err := decode[model.ModelRequest](s, verb, m)
		if err != nil {
			return nil, err
		}
		return s.reg.Audit(ctx, req.Model)
	}
	return nil, model.Errorf(model.CodeInvalidRequest, "unknown verb %q", verb)
}

import { randomBytes } from 'node:crypto';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  context,
  propagation,
  trace,
  type Attributes,
  type Link,
  type Span,
  type SpanContext,
  type Tracer,
} from '@opentelemetry/api';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { RunEvent, RunTraceContext } from '@parley/contracts';
import type { TracingConfig } from '../../config/config';
import type { RunEventObserver } from '../run-observer';
import type { RunTrail, TurnTrail } from '../run-trail';
import { PinnedIdGenerator, spanIdOf } from './pinned-ids';
import { setToolTraceSource } from './tool-trace-context';

interface SpanRecord {
  name: string;
  spanId: string;
  parentSpanId?: string;
  start: string;
  end: string;
  attributes: Attributes;
  error?: string;
  kind?: SpanKind;
  links?: Link[];
}

/** W3C trace context as a socket.io message or a routed command record carries it. */
export interface TraceCarrier {
  traceparent?: string;
  tracestate?: string;
}

/** What a command is about, for its span's link to the run's trace. */
export interface CommandAbout {
  command: string;
  runId?: string;
  requestId?: string;
}

/** Decisions' spans kept for the human request span they resolve (bounded: oldest dropped first). */
const COMMAND_SPANS_KEPT = 2000;

/**
 * OpenTelemetry traces of runs, derived from the log: `invoke_workflow` (the run) → `invoke_agent`
 * (a turn) → `chat` (a model call) and `execute_tool` (a tool call), and `parley.human_request`
 * from a request's opening to its resolution. A span is exported when the fact that closes it is
 * appended, with the times of the facts that opened and closed it and ids derived from them
 * (`spanIdOf`), under the trace context `run.started` recorded: a run that waits two days, or whose
 * server was killed and restarted, is one trace with the right parents. The official SDK exports
 * them over OTLP/HTTP (the standard OTEL_* variables: batching, headers, timeouts).
 */
export class RunTracing implements RunEventObserver {
  private readonly ids = new PinnedIdGenerator();
  private readonly provider: NodeTracerProvider;
  /** The trace context of the runs seen here that have not ended: what a tool call sends on. */
  private readonly traces = new Map<string, RunTraceContext>();
  /** Runs started here whose `run.started` the observer has not seen yet (their lines log at once). */
  private readonly starting = new Map<string, RunTraceContext>();
  /** The spans of the commands that acted on a request (decide, claim), by request id: its span links to them. */
  private readonly commandSpans = new Map<string, SpanContext[]>();
  /** Any run's trace context (the read model's copy of `run.started`), set once it is up. */
  private recorded: (runId: string) => RunTraceContext | undefined = () => undefined;
  readonly tracer: Tracer;

  constructor(private readonly config: TracingConfig) {
    const exporter =
      config.protocol === 'http/json'
        ? new OtlpJsonExporter({ url: config.url })
        : new OtlpProtoExporter({ url: config.url });
    this.provider = new NodeTracerProvider({
      resource: resourceFromAttributes({
        'service.name': config.serviceName,
        'service.instance.id': config.instanceId,
      }),
      idGenerator: this.ids,
      spanProcessors: [new BatchSpanProcessor(exporter)],
    });
    // the global provider, W3C trace-context propagation and the async context (HTTP spans, log lines)
    this.provider.register();
    this.tracer = this.provider.getTracer('parley');
    setToolTraceSource((runId, callId) => {
      const run = this.traces.get(runId);
      return run && `00-${run.traceId}-${spanIdOf(runId, `tool:${callId}`)}-01`;
    });
  }

  /**
   * The trace context a new run records: under the active span (an HTTP request's, a socket.io
   * message's, a routed command's), else a new trace.
   */
  newRunContext(runId?: string): RunTraceContext {
    const active = trace.getActiveSpan()?.spanContext();
    const spanId = randomBytes(8).toString('hex');
    const run =
      active && trace.isSpanContextValid(active)
        ? { traceId: active.traceId, spanId, parentSpanId: active.spanId }
        : { traceId: randomBytes(16).toString('hex'), spanId };
    if (runId) {
      this.starting.set(runId, run);
      if (this.starting.size > COMMAND_SPANS_KEPT) this.starting.delete(this.starting.keys().next().value!);
    }
    return run;
  }

  /** Where the trace context of runs this instance has not seen start comes from (the read model). */
  readTracesFrom(recorded: (runId: string) => RunTraceContext | undefined): void {
    this.recorded = recorded;
  }

  /** A run's trace context: as `run.started` recorded it (undefined for a run started with tracing off). */
  traceOf(runId: string): RunTraceContext | undefined {
    return this.traces.get(runId) ?? this.starting.get(runId) ?? this.recorded(runId);
  }

  /**
   * Runs `fn` under a new SERVER span whose parent is `carrier`'s trace context (none: a new
   * trace), active meanwhile: what `fn` starts or logs is under it. `fn` is handed the span and its
   * own `traceparent` (what an answer carries back). The span ends when `fn` settles.
   */
  async inServerSpan<T>(
    name: string,
    carrier: TraceCarrier,
    attributes: Attributes,
    fn: (span: Span, traceparent: string | undefined) => Promise<T>,
  ): Promise<T> {
    const fields: Record<string, string> = {};
    if (typeof carrier.traceparent === 'string') fields.traceparent = carrier.traceparent;
    if (typeof carrier.tracestate === 'string') fields.tracestate = carrier.tracestate;
    const parent = propagation.extract(ROOT_CONTEXT, fields);
    const span = this.tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
    const active = trace.setSpan(parent, span);
    const out: Record<string, string> = {};
    propagation.inject(active, out);
    try {
      return await context.with(active, () => fn(span, out.traceparent));
    } finally {
      span.end();
    }
  }

  /** The active span's trace context, as a routed command record carries it. */
  activeCarrier(): TraceCarrier {
    const out: Record<string, string> = {};
    propagation.inject(context.active(), out);
    return {
      ...(out.traceparent ? { traceparent: out.traceparent } : {}),
      ...(out.tracestate ? { tracestate: out.tracestate } : {}),
    };
  }

  /**
   * The active span (a command's: REST, socket.io or routed) links to the trace of the run the
   * command is about: to the human request's span for a decision or a claim, else to the run's
   * `invoke_workflow` span; and the request's span will link back to it when it is exported (so a
   * decision is found from the run's trace, and the run from the decision's).
   */
  linkCommand(about: CommandAbout): void {
    const span = trace.getActiveSpan();
    if (!span) return;
    span.setAttribute('parley.command', about.command);
    if (about.requestId) span.setAttribute('parley.request.id', about.requestId);
    if (!about.runId) return;
    span.setAttribute('parley.run.id', about.runId);
    const run = this.traceOf(about.runId);
    if (!run) return;
    const target = about.requestId ? spanIdOf(about.runId, `request:${about.requestId}`) : run.spanId;
    span.addLink({
      context: { traceId: run.traceId, spanId: target, traceFlags: TraceFlags.SAMPLED, isRemote: true },
      attributes: { 'parley.link': about.requestId ? 'human_request' : 'run' },
    });
    const own = span.spanContext();
    if (about.requestId && own.traceId !== run.traceId) {
      const kept = this.commandSpans.get(about.requestId) ?? [];
      kept.push(own);
      this.commandSpans.delete(about.requestId); // re-inserted: the newest last
      this.commandSpans.set(about.requestId, kept.slice(-10));
      if (this.commandSpans.size > COMMAND_SPANS_KEPT)
        this.commandSpans.delete(this.commandSpans.keys().next().value!);
    }
  }

  observe(event: RunEvent, trail: RunTrail): void {
    const run = trail.trace ?? (event.type === 'run.started' ? event.data.trace : undefined);
    if (!run) return; // started with tracing off: no trace to add to
    if (event.type === 'run.completed' || event.type === 'run.cancelled') this.traces.delete(event.runId);
    else this.traces.set(event.runId, run);
    this.starting.delete(event.runId);
    for (const span of this.closedBy(event, trail, run)) this.emit(run, span);
  }

  /** The spans `event` closes. */
  private closedBy(event: RunEvent, trail: RunTrail, run: RunTraceContext): SpanRecord[] {
    const runId = event.runId;
    const turnSpan = (turn: TurnTrail | undefined) =>
      turn ? spanIdOf(runId, `turn:${turn.openedBy}`) : run.spanId;
    const turnRecord = (turn: TurnTrail, error?: string): SpanRecord => ({
      name: `invoke_agent ${turn.agent}`,
      spanId: turnSpan(turn),
      parentSpanId: run.spanId,
      start: turn.at,
      end: event.at,
      attributes: {
        'gen_ai.operation.name': 'invoke_agent',
        'gen_ai.agent.name': turn.agent,
        'parley.turn.purpose': turn.purpose,
        'parley.turn.model_calls': turn.calls,
        'gen_ai.usage.input_tokens': turn.inputTokens,
        'gen_ai.usage.output_tokens': turn.outputTokens,
        'parley.run.id': runId,
      },
      error,
    });
    switch (event.type) {
      case 'model-call.completed':
      case 'model-call.failed': {
        const call = trail.modelCalls.get(event.data.callId);
        if (!call) return [];
        const usage = event.type === 'model-call.completed' ? event.data.usage : undefined;
        const error =
          event.type === 'model-call.failed' ? `${event.data.code}: ${event.data.message}` : undefined;
        const spans: SpanRecord[] = [
          {
            name: `chat ${call.model}`,
            spanId: spanIdOf(runId, `chat:${event.data.callId}`),
            parentSpanId: turnSpan(call.turn),
            start: call.at,
            end: event.at,
            kind: SpanKind.CLIENT,
            attributes: {
              'gen_ai.operation.name': 'chat',
              'gen_ai.request.model': call.model,
              'gen_ai.agent.name': call.agent,
              'parley.model_call.id': event.data.callId,
              'parley.model_call.purpose': call.purpose,
              'parley.model_call.attempts': event.data.attempts,
              ...(usage
                ? {
                    'gen_ai.usage.input_tokens': usage.promptTokens,
                    'gen_ai.usage.output_tokens': usage.completionTokens,
                  }
                : {}),
              ...(event.type === 'model-call.completed'
                ? { 'parley.model_call.tool_calls': event.data.toolCalls.length }
                : {}),
            },
            error,
          },
        ];
        const turn = call.turn;
        if (turn && (event.type === 'model-call.failed' || event.data.toolCalls.length === 0)) {
          // the turn's figures include this call's tokens
          const closing = { ...turn };
          closing.inputTokens += usage?.promptTokens ?? 0;
          closing.outputTokens += usage?.completionTokens ?? 0;
          spans.push(turnRecord(closing, error));
        }
        return spans;
      }
      case 'tool-call.completed':
      case 'tool-call.failed': {
        const call = trail.toolCalls.get(event.data.callId);
        if (!call?.startedAt) return [];
        const content = this.config.captureContent
          ? {
              'gen_ai.tool.call.arguments': JSON.stringify(call.args),
              ...(event.type === 'tool-call.completed'
                ? { 'gen_ai.tool.call.result': JSON.stringify(event.data.result) }
                : {}),
            }
          : {};
        return [
          {
            name: `execute_tool ${call.tool}`,
            spanId: spanIdOf(runId, `tool:${event.data.callId}`),
            parentSpanId: turnSpan(call.turn),
            start: call.startedAt,
            end: event.at,
            attributes: {
              'gen_ai.operation.name': 'execute_tool',
              'gen_ai.tool.name': call.tool,
              'gen_ai.tool.call.id': event.data.callId,
              'gen_ai.agent.name': call.agent,
              ...(event.type === 'tool-call.completed'
                ? { 'parley.tool_call.reconciled': event.data.reconciled }
                : {}),
              ...content,
            },
            error:
              event.type === 'tool-call.failed' ? `${event.data.code}: ${event.data.message}` : undefined,
          },
        ];
      }
      case 'human-request.resolved':
      case 'human-request.expired':
      case 'human-request.closed': {
        const request = trail.requests.get(event.data.requestId);
        if (!request) return [];
        const outcome =
          event.type === 'human-request.resolved'
            ? event.data.outcome
            : event.type === 'human-request.expired'
              ? 'expired'
              : 'closed';
        const deciders = event.type === 'human-request.resolved' ? event.data.deciders : [];
        // the commands that acted on it here (decisions, claims) in traces of their own
        const commands = this.commandSpans.get(event.data.requestId) ?? [];
        this.commandSpans.delete(event.data.requestId);
        return [
          {
            name: `parley.human_request ${request.kind}`,
            spanId: spanIdOf(runId, `request:${event.data.requestId}`),
            parentSpanId: turnSpan(request.turn),
            start: request.at,
            end: event.at,
            attributes: {
              'parley.request.id': event.data.requestId,
              'parley.request.kind': request.kind,
              'parley.request.roles': request.roles,
              'parley.request.tier': request.tier,
              'parley.request.outcome': outcome,
              'parley.request.payload_hash': request.payloadHash,
              'parley.request.deciders': deciders.map((d) => d.id),
              'parley.request.decider_roles': deciders.map((d) => d.role),
              ...(event.type === 'human-request.expired'
                ? { 'parley.request.expiry_action': event.data.action }
                : {}),
            },
            links: commands.map((c) => ({ context: c, attributes: { 'parley.link': 'command' } })),
          },
        ];
      }
      case 'run.completed':
      case 'run.failed':
      case 'run.cancelled': {
        const status = event.type.slice('run.'.length);
        const error = event.type === 'run.failed' ? `${event.data.code}: ${event.data.message}` : undefined;
        return [
          // turns still open when the run ends (a cancel) end with it
          ...[...trail.turns.values()].map((turn) => turnRecord(turn, error)),
          {
            name: `invoke_workflow ${trail.workflow}`,
            spanId: run.spanId,
            parentSpanId: run.parentSpanId,
            start: trail.startedAt ?? event.at,
            end: event.at,
            attributes: {
              'gen_ai.operation.name': 'invoke_workflow',
              'parley.workflow': trail.workflow,
              'parley.run.id': runId,
              'parley.run.status': status,
            },
            error,
          },
        ];
      }
      default:
        return [];
    }
  }

  private emit(run: RunTraceContext, span: SpanRecord): void {
    const parent = span.parentSpanId
      ? trace.setSpanContext(ROOT_CONTEXT, {
          traceId: run.traceId,
          spanId: span.parentSpanId,
          traceFlags: TraceFlags.SAMPLED,
          isRemote: true,
        })
      : ROOT_CONTEXT;
    this.ids.pin(run.traceId, span.spanId);
    const otel = this.tracer.startSpan(
      span.name,
      {
        startTime: new Date(span.start),
        attributes: span.attributes,
        kind: span.kind ?? SpanKind.INTERNAL,
        links: span.links,
      },
      parent,
    );
    if (span.error) otel.setStatus({ code: SpanStatusCode.ERROR, message: span.error });
    otel.end(new Date(span.end));
  }

  async close(): Promise<void> {
    setToolTraceSource(undefined);
    await this.provider.forceFlush().catch(() => undefined);
    await this.provider.shutdown().catch(() => undefined);
  }
}

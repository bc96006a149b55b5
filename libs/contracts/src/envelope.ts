import { z } from 'zod';

/**
 * Who produced a fact. `human`: a person's token; `agent`: an LLM agent of the run, or an agent's
 * token; `service`: an automation's token; `system`: Parley itself. `role` is the role the actor
 * acted under, when one applies (a human's decision, a cancel, a fork).
 */
export const ActorSchema = z.object({
  kind: z.enum(['agent', 'human', 'service', 'system']),
  id: z.string().min(1),
  role: z.string().min(1).optional(),
});
export type Actor = z.infer<typeof ActorSchema>;

const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'expected a SHA-256 hex digest');

/** The envelope of every fact in a run's stream. `data` is checked per `type` by the registry. */
export const EventEnvelopeSchema = z.object({
  eventId: z.string().min(1),
  runId: z.string().min(1),
  seq: z.number().int().positive(),
  type: z.string().min(1),
  schemaVersion: z.number().int().positive(),
  at: z.iso.datetime(),
  actor: ActorSchema,
  data: z.unknown(),
  correlationId: z.string().min(1),
  causationId: z.string().min(1).nullable(),
  prevHash: Sha256Hex,
  hash: Sha256Hex,
});
export type EventEnvelope<T extends string = string, D = unknown> = Omit<
  z.infer<typeof EventEnvelopeSchema>,
  'type' | 'data'
> & { type: T; data: D };

/** What a writer hands to the event store; the store assigns seq, prevHash and hash. */
export interface NewEvent<T extends string = string, D = unknown> {
  type: T;
  data: D;
  actor: Actor;
  eventId?: string;
  at?: string;
  correlationId?: string;
  causationId?: string | null;
}

/** An event with its position in the log's global order (projections follow this). */
export interface StoredEvent {
  position: number;
  event: EventEnvelope;
}

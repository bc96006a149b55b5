import 'reflect-metadata';
import { ConsoleLogger, Logger, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { UnhandledExceptionBus } from '@nestjs/cqrs';
import type { OpenAPIObject } from '@nestjs/swagger';
import { API_VERSION, openApiDocument } from '@parley/contracts';
import { AppModule } from './app.module';
import type { ParleyConfig } from './config/config';
import { createCore, type EarlyStart } from './core/core';
import { IdentityService } from './auth/identity';
import { contentTypePolicy } from './http/content-type.policy';
import { lazyDocs } from './http/lazy-docs';
import { rateLimitPolicy } from './http/rate-limit.policy';
import { jsonLogger, jsonNestLogger, requestLines } from './observability/logging/json-logs';
import { httpTracing } from './observability/tracing/http-tracing.middleware';
import { httpMetrics } from './observability/metrics/http-metrics.middleware';
import { RealtimeGateway } from './realtime/realtime.gateway';

/** The server on `config`: the core, then Nest, listening once the read model has caught up. */
export async function serve(config: ParleyConfig, early: EarlyStart): Promise<void> {
  // JSON lines (pino) off a terminal or with PARLEY_LOG_FORMAT=json; text otherwise, coloured only on a terminal
  const secrets = [config.adminToken, config.metricsToken, config.webhookSecret, config.llm?.apiKey].filter(
    (s): s is string => !!s,
  );
  const jsonLogs = config.logFormat === 'json' ? jsonLogger(secrets) : undefined;
  const logger: LoggerService = jsonLogs
    ? jsonNestLogger(jsonLogs)
    : new ConsoleLogger({ colors: !!process.stdout.isTTY, logLevels: ['log', 'warn', 'error', 'fatal'] });
  Logger.overrideLogger(logger); // the lines logged while the core is built, before Nest
  const core = await createCore(config, early);
  secrets.push(...core.identity.secrets());
  // the HTTP adapter named here (Nest would require it only now): loaded with the rest of the code,
  // while the log's check runs
  const app = await NestFactory.create(AppModule.forRoot(core), new ExpressAdapter(), {
    logger,
    abortOnError: false,
  });
  app.enableShutdownHooks();
  // On SIGTERM/SIGINT Nest stops taking requests and closes the core (the engine stops its drivers,
  // the logs finish their appends and checkpoint): bounded, so a hung dependency cannot keep us up.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      setTimeout(() => {
        process.stderr.write(
          `parley: still closing ${config.shutdownTimeoutMs} ms after ${signal}: exiting\n`,
        );
        process.exit(1);
      }, config.shutdownTimeoutMs).unref();
    });
  }
  app.use(httpMetrics(core.observability.metrics)); // first: refused requests (429, 415) count too
  const tracing = core.observability.tracing;
  if (tracing) app.use(httpTracing(tracing));
  const gateway = app.get(RealtimeGateway);
  core.observability.countSocketClients(() => gateway.server?.engine?.clientsCount ?? 0);
  if (config.httpRateLimit > 0) {
    const identity = app.get(IdentityService);
    const known = (authorization: string): boolean => {
      try {
        identity.authenticate(authorization);
        return true;
      } catch {
        return false;
      }
    };
    app.use(rateLimitPolicy(config.httpRateLimit, known)); // first: a flood is refused before anything else
  }
  app.use(contentTypePolicy); // before the body parsers (registered when the app starts listening)
  if (jsonLogs) app.use(requestLines(jsonLogs, secrets)); // after the two policies, as before: their refusals are counted, not logged
  const parley = new Logger('Parley');
  app
    .get(UnhandledExceptionBus)
    .subscribe(({ exception, cause }) =>
      parley.error(
        `unhandled error in an event handler or saga (${cause?.constructor?.name ?? 'unknown'}): ${(exception as Error)?.stack ?? exception}`,
      ),
    );
  // The OpenAPI document is generated from the route table in @parley/contracts (one definition),
  // and it and the docs' code are loaded on the first request for them, not before listening.
  lazyDocs(app, 'docs', () => openApiDocument(API_VERSION) as unknown as OpenAPIObject);
  await app.listen(config.port, config.host);
  const port = (app.getHttpServer().address() as { port: number }).port;
  parley.log(
    `Parley listening on http://localhost:${port} (event log: ${config.eventLog}; API docs at /docs)`,
  );
}

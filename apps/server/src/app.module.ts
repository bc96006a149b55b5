import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { CqrsModule } from '@nestjs/cqrs';
import { AgUiModule } from './ag-ui/ag-ui.module';
import { AuditHttpController } from './audit/audit.http.controller';
import { AUDIT_COMMAND_HANDLERS } from './audit/commands/audit-commands.handlers';
import { AuthGuard } from './auth/auth.guard';
import { ClusterHttpController } from './cluster/cluster.http.controller';
import { ClusterService } from './cluster/cluster.service';
import { CommandRouter } from './cluster/command-router';
import type { ParleyCore } from './core/core';
import { ConsoleController } from './console/console.controller';
import { CoreModule } from './core/core.module';
import { EventLogRecoveryService } from './health/event-log-recovery.service';
import { HealthHttpController } from './health/health.http.controller';
import { REQUEST_COMMAND_HANDLERS } from './hitl/commands/request-commands.handlers';
import { DeadlineScheduler } from './hitl/deadline-scheduler';
import { RequestsHttpController } from './hitl/requests.http.controller';
import { ResumeRunSaga } from './hitl/resume-run.saga';
import { ErrorFilter } from './http/error.filter';
import { NotificationsModule } from './notifications/notifications.module';
import { MetricsHttpController } from './observability/metrics/metrics.http.controller';
import { RealtimeGateway } from './realtime/realtime.gateway';
import { RUN_COMMAND_HANDLERS } from './runs/commands/run-commands.handlers';
import { StartRunHandler } from './runs/commands/start-run.handler';
import { RunsHttpController } from './runs/runs.http.controller';
import { SigningHttpController } from './signing/signing.http.controller';
import { RefundsHttpController } from './tools/refunds.http.controller';
import { WorkflowsHttpController } from './workflows/workflows.http.controller';

@Module({
  imports: [CqrsModule.forRoot(), NotificationsModule, AgUiModule],
  controllers: [
    AuditHttpController,
    HealthHttpController,
    WorkflowsHttpController,
    RunsHttpController,
    RequestsHttpController,
    RefundsHttpController,
    ConsoleController,
    ClusterHttpController,
    SigningHttpController,
    MetricsHttpController,
  ],
  providers: [
    StartRunHandler,
    ...RUN_COMMAND_HANDLERS,
    ...REQUEST_COMMAND_HANDLERS,
    ...AUDIT_COMMAND_HANDLERS,
    ResumeRunSaga,
    DeadlineScheduler,
    CommandRouter,
    ClusterService,
    EventLogRecoveryService,
    RealtimeGateway,
    { provide: APP_GUARD, useClass: AuthGuard },
    { provide: APP_FILTER, useClass: ErrorFilter },
  ],
})
export class AppModule {
  static forRoot(core: ParleyCore): DynamicModule {
    return { module: AppModule, imports: [CoreModule.forRoot(core)] };
  }
}

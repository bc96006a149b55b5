import { Controller, Get, Inject } from '@nestjs/common';
import { RequiresRole } from '../auth/auth.guard';
import { WorkflowCatalog } from './workflow-catalog';

@Controller('api/workflows')
export class WorkflowsHttpController {
  constructor(@Inject(WorkflowCatalog) private readonly workflows: WorkflowCatalog) {}

  @Get()
  @RequiresRole('viewer')
  list() {
    return {
      workflows: this.workflows.list().map((w) => ({
        name: w.name,
        pattern: w.pattern,
        description: w.description,
        agents: w.agents.map((a) => a.name),
        definition: w,
      })),
    };
  }
}

import type { INestApplication } from '@nestjs/common';
import type { OpenAPIObject } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';

type Handler = (req: Request, res: Response, next: NextFunction) => void;

/**
 * The API docs (`/<path>` the Swagger UI and its assets, `/<path>-json`, `/<path>-yaml`), mounted
 * before the server listens but loaded on their first request: @nestjs/swagger (about 100 modules)
 * and the OpenAPI document are not needed to be ready, and Nest's not-found handler, in place once
 * it listens, would hide routes mounted later. On that first request `SwaggerModule.setup` mounts
 * the very same routes on an Express app of their own, which then serves every docs request.
 */
export function lazyDocs(app: INestApplication, path: string, document: () => OpenAPIObject): void {
  const prefix = `/${path}`;
  let docs: Handler | undefined;
  const load = (): Handler => {
    /* eslint-disable @typescript-eslint/no-require-imports */
    const express = require('express') as typeof import('express');
    const { ExpressAdapter } =
      require('@nestjs/platform-express') as typeof import('@nestjs/platform-express');
    const { SwaggerModule } = require('@nestjs/swagger') as typeof import('@nestjs/swagger');
    /* eslint-enable @typescript-eslint/no-require-imports */
    const own = express();
    const adapter = new ExpressAdapter(own);
    // what SwaggerModule.setup asks of the app: its HTTP adapter and static assets (no global prefix)
    const host = {
      getHttpAdapter: () => adapter,
      useStaticAssets: (root: string, options: { prefix?: string }) => adapter.useStaticAssets(root, options),
    } as unknown as INestApplication;
    SwaggerModule.setup(path, host, document);
    return own as unknown as Handler;
  };
  app.use((req: Request, res: Response, next: NextFunction) => {
    const url = req.path;
    if (url !== prefix && !url.startsWith(`${prefix}/`) && !url.startsWith(`${prefix}-`)) return next();
    (docs ??= load())(req, res, next);
  });
}

import { ApiBody } from '@nestjs/swagger';
import type { SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { z } from 'zod';

/** A route's OpenAPI request body, from the zod schema that parses it (one definition). */
export function ApiBodyFrom(schema: z.ZodType, description?: string): MethodDecorator {
  return ApiBody({
    schema: z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input' }) as SchemaObject,
    description,
  });
}

import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ParleyError, issuePath } from '@parley/contracts';
import { ToolsFileSchema, type ToolsFile } from './tools-file.schema';

/** A tools file that cannot be used: names the file, the path of the bad field, and what was expected. */
export class ToolsFileError extends ParleyError {
  constructor(file: string, path: string, message: string) {
    super('TOOLS.INVALID', `${file}: ${path ? `${path}: ` : ''}${message}`, 'validation', path || undefined, {
      file,
    });
  }
}

/** Read and validate a tools file (YAML, of which JSON is a subset). */
export function readToolsFile(file: string): ToolsFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ToolsFileError(file, '', `cannot be read (${(error as NodeJS.ErrnoException).code ?? error})`);
  }
  return parseToolsFile(file, text);
}

export function parseToolsFile(file: string, text: string): ToolsFile {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new ToolsFileError(file, '', `not valid YAML or JSON: ${(error as Error).message}`);
  }
  const parsed = ToolsFileSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ToolsFileError(file, issuePath(issue), issue.message);
  }
  const names = new Set<string>();
  parsed.data.http.forEach((tool, i) => {
    if (names.has(tool.name))
      throw new ToolsFileError(file, `http.${i}.name`, `"${tool.name}" is defined twice`);
    names.add(tool.name);
  });
  return parsed.data;
}

const ENV_REF = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * `${env:NAME}` in a value, read from the environment. A variable that is not set is an error naming
 * the field (never the value: headers hold secrets).
 */
export function expandEnv(
  values: Record<string, string> | undefined,
  env: NodeJS.ProcessEnv,
  file: string,
  path: string,
): Record<string, string> | undefined {
  if (!values) return undefined;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) {
    out[key] = value.replace(ENV_REF, (_match, name: string) => {
      const set = env[name];
      if (set === undefined)
        throw new ToolsFileError(file, `${path}.${key}`, `the environment variable ${name} is not set`);
      return set;
    });
  }
  return out;
}

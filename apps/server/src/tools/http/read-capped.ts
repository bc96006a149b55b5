import { ToolError } from '@parley/engine';

/** The response body as text, or TOOL.RESPONSE_TOO_LARGE past `max` bytes (the rest is not read). */
export async function readCapped(response: Response, max: number, tool: string): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > max) {
    await response.body?.cancel();
    throw tooLarge(tool, max);
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      throw tooLarge(tool, max);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const tooLarge = (tool: string, max: number): ToolError =>
  new ToolError('TOOL.RESPONSE_TOO_LARGE', `${tool}: the answer is longer than ${max} bytes`);

import { z } from 'zod';

// The console runs under a strict Content-Security-Policy (no eval). Zod decides whether to compile
// its object parsers with `new Function` when a schema is built, so this runs first of all (the first
// import of main.tsx), before any schema of the contracts exists.
z.config({ jitless: true });

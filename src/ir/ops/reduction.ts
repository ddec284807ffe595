import type { SchemaRegistry } from '../schema.js';

export const schemas: SchemaRegistry = {};

#!/usr/bin/env node
/**
 * A stdio MCP server for tests (plain JS, run with node; built with @modelcontextprotocol/sdk):
 *
 *   env    (read-only)  the server's whole environment, as JSON
 *   pid    (read-only)  its process id
 *   hang   (read-only)  never answers
 *   touch  (write)      creates the file `path` (relative to its working directory)
 *   grow   (write)      adds a tool `extra` (the server then sends tools/list_changed)
 *
 * `--exit-at-start` writes a line to stderr and exits 3 before speaking MCP.
 */
import {writeFileSync} from 'node:fs'

import {McpServer} from '@modelcontextprotocol/sdk/server/mcp.js'
import {StdioServerTransport} from '@modelcontextprotocol/sdk/server/stdio.js'
import {z} from 'zod'

if (process.argv.includes('--exit-at-start')) {
  process.stderr.write('probe: refusing to start (--exit-at-start)\n')
  process.exit(3)
}

const server = new McpServer({name: 'probe', version: '1.0.0'})
const readOnly = {readOnlyHint: true}
server.registerTool('env', {description: 'Dump the environment', inputSchema: {}, annotations: readOnly}, async () => ({
  content: [{type: 'text', text: JSON.stringify(process.env)}],
}))
server.registerTool('pid', {description: 'Process id', inputSchema: {}, annotations: readOnly}, async () => ({content: [{type: 'text', text: String(process.pid)}]}))
server.registerTool('hang', {description: 'Never answers', inputSchema: {}, annotations: readOnly}, () => new Promise(() => {}))
server.registerTool('touch', {description: 'Create a file', inputSchema: {path: z.string()}, annotations: {readOnlyHint: false}}, async ({path}) => {
  writeFileSync(path, 'touched\n')
  return {content: [{type: 'text', text: `created ${path}`}]}
})
server.registerTool('grow', {description: 'Add a tool', inputSchema: {}, annotations: {readOnlyHint: false}}, async () => {
  server.registerTool('extra', {description: 'Added later', inputSchema: {}, annotations: readOnly}, async () => ({content: [{type: 'text', text: 'extra'}]}))
  return {content: [{type: 'text', text: 'grown'}]}
})
await server.connect(new StdioServerTransport())

/**
 * A streamable-HTTP MCP server on loopback for tests, built with @modelcontextprotocol/sdk
 * (stateless: a new server and transport per request):
 *
 *   echo   (read-only)  returns `text`
 *   huge   (read-only)  returns `kb` kB of text sprinkled with ANSI escapes
 *   whoami (read-only)  the Authorization header it received
 *
 *   const srv = await startMcpHttpServer()   // srv.url = http://127.0.0.1:PORT/mcp
 *   await srv.close()
 */
import http from 'node:http'
import type {AddressInfo} from 'node:net'

import {McpServer} from '@modelcontextprotocol/sdk/server/mcp.js'
import {StreamableHTTPServerTransport} from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import {z} from 'zod'

export interface McpHttpServer {
  url: string
  /** Requests seen, with their Authorization header. */
  requests: {authorization?: string}[]
  /** Answer every request with this status instead (e.g. 401), until cleared. */
  failWith?: number
  close(): Promise<void>
}

function build(authorization: string | undefined): McpServer {
  const server = new McpServer({name: 'loopback', version: '1.0.0'})
  const readOnly = {readOnlyHint: true}
  server.registerTool('echo', {description: 'Echo a text', inputSchema: {text: z.string()}, annotations: readOnly}, async ({text}) => ({content: [{type: 'text', text}]}))
  server.registerTool('huge', {description: 'A huge answer', inputSchema: {kb: z.number()}, annotations: readOnly}, async ({kb}) => ({
    content: [{type: 'text', text: '\u001b[31mred\u001b[0m '.repeat(Math.ceil((kb * 1024) / 13))}, {type: 'image', data: 'aGVsbG8=', mimeType: 'image/png'}],
  }))
  server.registerTool('whoami', {description: 'The Authorization header received', inputSchema: {}, annotations: readOnly}, async () => ({
    content: [{type: 'text', text: authorization ?? '(none)'}],
  }))
  return server
}

export async function startMcpHttpServer(): Promise<McpHttpServer> {
  const state: McpHttpServer = {url: '', requests: [], close: async () => {}}
  const srv = http.createServer((req, res) => {
    state.requests.push({authorization: req.headers.authorization})
    if (state.failWith) {
      res.writeHead(state.failWith, {'content-type': 'application/json'}).end('{"error":"refused"}')
      return
    }
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      void (async () => {
        const body = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined
        const server = build(req.headers.authorization)
        const transport = new StreamableHTTPServerTransport({sessionIdGenerator: undefined, enableJsonResponse: true})
        res.on('close', () => {
          void transport.close()
          void server.close()
        })
        await server.connect(transport)
        await transport.handleRequest(req, res, body)
      })().catch((err) => {
        if (!res.headersSent) res.writeHead(500).end(String(err))
      })
    })
  })
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  state.url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/mcp`
  state.close = () =>
    new Promise<void>((resolve) => {
      srv.closeAllConnections()
      srv.close(() => resolve())
    })
  return state
}

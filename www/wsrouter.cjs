// SPDX-License-Identifier: MIT
// require('wsrouter') lands here: the client is an ES module only. Saying so
// at once is clearer than the error Node would give.
'use strict';
const err = new Error(
  "wsrouter is an ES module: use `import { WsRouter } from 'wsrouter'`, or from CommonJS " +
    "`const { WsRouter } = await import('wsrouter')`",
);
err.code = 'ERR_REQUIRE_ESM';
throw err;

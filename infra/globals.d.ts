/**
 * The few SST/Pulumi globals the infra code uses, declared for the repository's own type-check
 * (`pnpm typecheck`): the real declarations live in `.sst/platform/config.d.ts`, which only an
 * `sst` command generates (it downloads Pulumi, so not here or in CI). Where `.sst/platform`
 * exists, `npx tsc -p infra/tsconfig.sst.json` checks the same files against the real types
 * instead (that config leaves this file out). Only what we use, so a typo in a property name
 * still fails here.
 */
type SstInput<T> = T | SstOutput<T> | Promise<T>;
interface SstOutput<T> {
  apply<U>(fn: (value: T) => U): SstOutput<U>;
}
type SstDuration = `${number} ${'second' | 'seconds' | 'minute' | 'minutes' | 'hour' | 'hours' | 'day' | 'days'}`;
type SstMemory = `${number} MB` | `${number} GB`;
/** Linkable components (Pulumi resources all have a urn). */
interface SstLinkable {
  readonly urn: SstOutput<string>;
}

interface SstFunctionArgs {
  handler: string;
  runtime?: 'nodejs20.x' | 'nodejs22.x' | 'nodejs24.x';
  architecture?: 'x86_64' | 'arm64';
  memory?: SstMemory;
  timeout?: SstDuration;
  description?: string;
  link?: SstLinkable[];
  environment?: Record<string, SstInput<string>>;
  copyFiles?: { from: string; to?: string }[];
  logging?: { retention?: '1 week' | '1 month' | '3 months' | '6 months' | '1 year' | 'forever'; format?: 'text' | 'json' };
  url?: boolean | {
    authorization?: 'none' | 'iam';
    cors?: boolean | {
      allowOrigins?: string[];
      allowHeaders?: string[];
      allowMethods?: ('*' | 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS')[];
      exposeHeaders?: string[];
      allowCredentials?: boolean;
      maxAge?: SstDuration;
    };
  };
  nodejs?: {
    format?: 'esm' | 'cjs';
    minify?: boolean;
    sourcemap?: boolean;
    install?: string[];
    esbuild?: { external?: string[]; keepNames?: boolean; mainFields?: string[]; banner?: Record<string, string> };
  };
}

interface SstComponentOptions {
  dependsOn?: unknown[];
}

declare const $app: { name: string; stage: string };

declare function $config(input: {
  app(input: { stage?: string } | undefined): {
    name: string;
    removal?: 'remove' | 'retain' | 'retain-all';
    protect?: boolean;
    home: 'aws' | 'cloudflare' | 'local';
    providers?: Record<string, unknown>;
  };
  run(): Promise<Record<string, unknown> | void>;
}): unknown;

declare namespace sst {
  class Secret implements SstLinkable {
    constructor(name: string, placeholder?: SstInput<string>);
    readonly urn: SstOutput<string>;
    readonly name: string;
    readonly value: SstOutput<string>;
  }
  namespace aws {
    class Function implements SstLinkable {
      constructor(name: string, args: SstFunctionArgs, opts?: SstComponentOptions);
      readonly urn: SstOutput<string>;
      readonly name: SstOutput<string>;
      readonly arn: SstOutput<string>;
      readonly url: SstOutput<string>;
    }
    class Queue implements SstLinkable {
      constructor(
        name: string,
        args?: {
          fifo?: boolean;
          visibilityTimeout?: SstDuration;
          dlq?: SstInput<string> | { queue: SstInput<string>; retry?: number };
          transform?: { queue?: Record<string, unknown> };
        },
        opts?: SstComponentOptions,
      );
      readonly urn: SstOutput<string>;
      readonly arn: SstOutput<string>;
      readonly url: SstOutput<string>;
      subscribe(
        subscriber: string | SstFunctionArgs,
        args?: { batch?: { size?: number; window?: SstDuration; partialResponses?: boolean } },
        opts?: SstComponentOptions,
      ): unknown;
    }
    class CronV2 {
      constructor(
        name: string,
        args: {
          schedule: string;
          timezone?: string;
          retries?: number;
          enabled?: boolean;
          function: string | SstFunctionArgs;
          event?: Record<string, string>;
        },
        opts?: SstComponentOptions,
      );
    }
  }
}

declare namespace aws {
  namespace lambda {
    class Invocation {
      constructor(
        name: string,
        args: { functionName: SstInput<string>; input: SstInput<string>; triggers?: Record<string, SstInput<string>> },
        opts?: SstComponentOptions,
      );
      readonly result: SstOutput<string>;
    }
  }
}

using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Inference.Scheduler;
using Inference.Worker.Engine;
using Inference.Worker.Sampling;
using Inference.Worker.Tokenization;
using Proto = Inference.Worker.Grpc;
using SchedulerFinish = Inference.Scheduler.FinishReason;
using SchedulerPriority = Inference.Scheduler.PriorityClass;

namespace Inference.Worker.Serving;

/// <summary>
/// Conversions between the worker's types and worker.proto's messages, used by both ends (the daemon's
/// service and the gateway's client), so a round trip gives back equal values.
/// </summary>
internal static class WorkerProtoMapping
{
    public static Proto.InfoReply ToProto(WorkerInfo info)
    {
        var reply = new Proto.InfoReply
        {
            Model = info.Model,
            MaxModelLength = info.MaxModelLength,
            VocabSize = info.VocabSize,
            Device = info.Device,
            BlockSize = info.BlockSize,
            KvBlocksTotal = info.KvBlocksTotal,
            AdmissibleKvBlocks = info.AdmissibleKvBlocks,
            Created = info.Created,
        };
        if (info.ChatTemplate is not null)
        {
            reply.ChatTemplate = info.ChatTemplate;
        }

        if (info.Pipeline is not null)
        {
            reply.Pipeline = info.Pipeline;
        }

        return reply;
    }

    public static WorkerInfo FromProto(Proto.InfoReply reply) => new()
    {
        Model = reply.Model,
        MaxModelLength = reply.MaxModelLength,
        VocabSize = reply.VocabSize,
        Device = reply.Device,
        BlockSize = reply.BlockSize,
        KvBlocksTotal = reply.KvBlocksTotal,
        AdmissibleKvBlocks = reply.AdmissibleKvBlocks,
        ChatTemplate = reply.HasChatTemplate ? reply.ChatTemplate : null,
        Pipeline = reply.HasPipeline ? reply.Pipeline : null,
        Created = reply.Created,
    };

    public static Proto.ChatInput ToProto(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, IReadOnlyList<ChatTool>? tools = null)
    {
        var input = new Proto.ChatInput { AddGenerationPrompt = addGenerationPrompt };
        foreach (ChatMessage m in messages)
        {
            var message = new Proto.ChatMessage { Role = m.Role, Content = m.Content, ToolCallId = m.ToolCallId ?? string.Empty, Name = m.Name ?? string.Empty };
            foreach (ChatToolCall call in m.ToolCalls ?? [])
            {
                message.ToolCalls.Add(new Proto.ToolCall { Id = call.Id, Name = call.Name, Arguments = call.Arguments });
            }

            input.Messages.Add(message);
        }

        foreach (ChatTool tool in tools ?? [])
        {
            input.Tools.Add(new Proto.ToolDefinition { Name = tool.Name, Description = tool.Description ?? string.Empty, Parameters = tool.ParametersJson ?? string.Empty });
        }

        return input;
    }

    public static ChatMessage[] FromProto(Proto.ChatInput input)
    {
        var messages = new ChatMessage[input.Messages.Count];
        for (int i = 0; i < messages.Length; i++)
        {
            Proto.ChatMessage m = input.Messages[i];
            ChatToolCall[]? calls = m.ToolCalls.Count == 0 ? null : [.. m.ToolCalls.Select(c => new ChatToolCall(c.Id, c.Name, c.Arguments))];
            messages[i] = new ChatMessage(m.Role, m.Content, calls, m.ToolCallId.Length == 0 ? null : m.ToolCallId, m.Name.Length == 0 ? null : m.Name);
        }

        return messages;
    }

    public static ChatTool[]? ToolsFromProto(Proto.ChatInput input) =>
        input.Tools.Count == 0 ? null : [.. input.Tools.Select(t => new ChatTool(t.Name, t.Description.Length == 0 ? null : t.Description, t.Parameters.Length == 0 ? null : t.Parameters))];

    public static Proto.GenerateRequest ToProto(GenerationRequest request)
    {
        SamplingParams s = request.Sampling;
        var sampling = new Proto.SamplingParams
        {
            Temperature = s.Temperature,
            TopK = s.TopK,
            TopP = s.TopP,
            MinP = s.MinP,
            RepetitionPenalty = s.RepetitionPenalty,
            PresencePenalty = s.PresencePenalty,
            FrequencyPenalty = s.FrequencyPenalty,
            MaxTokens = s.MaxTokens,
            IgnoreEos = s.IgnoreEos,
            MinTokens = s.MinTokens,
        };
        if (s.LogitBias is not null)
        {
            foreach ((int token, float bias) in s.LogitBias)
            {
                sampling.LogitBias[token] = bias;
            }
        }

        if (s.Seed is { } seed)
        {
            sampling.Seed = seed;
        }

        if (s.Logprobs is { } logprobs)
        {
            sampling.Logprobs = logprobs;
        }

        sampling.StopTokenIds.AddRange(s.StopTokenIds);
        var proto = new Proto.GenerateRequest
        {
            RequestId = request.RequestId,
            Sampling = sampling,
            PriorityClass = request.Class switch
            {
                SchedulerPriority.Interactive => Proto.PriorityClass.Interactive,
                SchedulerPriority.Batch => Proto.PriorityClass.Batch,
                _ => Proto.PriorityClass.Standard,
            },
            Priority = request.Priority,
            Tenant = request.Tenant,
            N = request.N,
            SkipSpecialTokens = request.SkipSpecialTokens,
            Grammar = request.Grammar ?? string.Empty,
        };
        proto.PromptTokens.AddRange(request.PromptTokens);
        proto.Stop.AddRange(request.StopStrings);
        return proto;
    }

    /// <summary>Throws <see cref="WorkerException"/>(Invalid) for values no <see cref="GenerationRequest"/> can hold.</summary>
    public static GenerationRequest FromProto(Proto.GenerateRequest proto)
    {
        if (string.IsNullOrEmpty(proto.RequestId))
        {
            throw new WorkerException(RefusalKind.Invalid, "request_id is required", "request_id");
        }

        SchedulerPriority priorityClass = proto.PriorityClass switch
        {
            Proto.PriorityClass.Unspecified or Proto.PriorityClass.Standard => SchedulerPriority.Standard,
            Proto.PriorityClass.Interactive => SchedulerPriority.Interactive,
            Proto.PriorityClass.Batch => SchedulerPriority.Batch,
            _ => throw new WorkerException(RefusalKind.Invalid, $"priority_class {(int)proto.PriorityClass} is not a known class", "priority_class"),
        };

        Proto.SamplingParams s = proto.Sampling ?? new Proto.SamplingParams();
        var defaults = new SamplingParams();
        var sampling = new SamplingParams
        {
            Temperature = s.HasTemperature ? s.Temperature : defaults.Temperature,
            TopK = s.TopK,
            TopP = s.HasTopP ? s.TopP : defaults.TopP,
            MinP = s.MinP,
            RepetitionPenalty = s.HasRepetitionPenalty ? s.RepetitionPenalty : defaults.RepetitionPenalty,
            PresencePenalty = s.PresencePenalty,
            FrequencyPenalty = s.FrequencyPenalty,
            LogitBias = s.LogitBias.Count == 0 ? null : new Dictionary<int, float>(s.LogitBias),
            Seed = s.HasSeed ? s.Seed : null,
            Logprobs = s.HasLogprobs ? s.Logprobs : null,
            StopTokenIds = [.. s.StopTokenIds],
            MaxTokens = s.HasMaxTokens ? s.MaxTokens : defaults.MaxTokens,
            IgnoreEos = s.IgnoreEos,
            MinTokens = s.MinTokens,
        };

        return new GenerationRequest
        {
            RequestId = proto.RequestId,
            PromptTokens = [.. proto.PromptTokens],
            Sampling = sampling,
            Class = priorityClass,
            Priority = proto.Priority,
            Tenant = string.IsNullOrEmpty(proto.Tenant) ? "default" : proto.Tenant,
            N = proto.HasN ? proto.N : 1,
            StopStrings = [.. proto.Stop],
            SkipSpecialTokens = !proto.HasSkipSpecialTokens || proto.SkipSpecialTokens,
            Grammar = proto.Grammar.Length == 0 ? null : proto.Grammar,
        };
    }

    public static Proto.GenerateEvent ToProto(ServedEvent e)
    {
        var proto = new Proto.GenerateEvent
        {
            Choice = e.Choice,
            Text = e.Text,
            TokenId = e.TokenId,
            FinishReason = (Proto.FinishReason)(int)e.Finish,
        };
        if (e.Sampled is { } sampled)
        {
            proto.Sampled = ToProto(sampled);
        }

        if (e.TopLogprobs is { } top)
        {
            foreach (ServedToken t in top)
            {
                proto.TopLogprobs.Add(ToProto(t));
            }
        }

        if (e.StopString is not null)
        {
            proto.StopString = e.StopString;
        }

        if (e.Error is not null)
        {
            proto.Error = e.Error;
        }

        if (e.Usage is { } usage)
        {
            proto.Usage = new Proto.Usage
            {
                PromptTokens = usage.PromptTokens,
                CompletionTokens = usage.CompletionTokens,
                CachedPromptTokens = usage.CachedPromptTokens,
                QueueTime = Duration.FromTimeSpan(usage.QueueTime),
                TimeToFirstToken = Duration.FromTimeSpan(usage.TimeToFirstToken),
                Total = Duration.FromTimeSpan(usage.Total),
                Preemptions = usage.Preemptions,
            };
        }

        return proto;
    }

    public static ServedEvent FromProto(Proto.GenerateEvent proto)
    {
        ServedToken[]? top = null;
        if (proto.TopLogprobs.Count > 0)
        {
            top = new ServedToken[proto.TopLogprobs.Count];
            for (int i = 0; i < top.Length; i++)
            {
                top[i] = FromProto(proto.TopLogprobs[i]);
            }
        }

        return new ServedEvent
        {
            Choice = proto.Choice,
            Text = proto.Text,
            TokenId = proto.TokenId,
            Sampled = proto.Sampled is null ? null : FromProto(proto.Sampled),
            TopLogprobs = top,
            Finish = (SchedulerFinish)(int)proto.FinishReason,
            StopString = proto.HasStopString ? proto.StopString : null,
            Error = proto.HasError ? proto.Error : null,
            Usage = proto.Usage is not { } u ? null : new RequestUsage
            {
                PromptTokens = u.PromptTokens,
                CompletionTokens = u.CompletionTokens,
                CachedPromptTokens = u.CachedPromptTokens,
                QueueTime = u.QueueTime?.ToTimeSpan() ?? TimeSpan.Zero,
                TimeToFirstToken = u.TimeToFirstToken?.ToTimeSpan() ?? TimeSpan.Zero,
                Total = u.Total?.ToTimeSpan() ?? TimeSpan.Zero,
                Preemptions = u.Preemptions,
            },
        };
    }

    public static Proto.LoadReport ToProto(EngineStats stats, bool draining) => Gpu.GpuProtoMapping.WithGpu(new()
    {
        WaitingInteractive = stats.WaitingInteractive,
        WaitingStandard = stats.WaitingStandard,
        WaitingBatch = stats.WaitingBatch,
        Running = stats.Running,
        LiveRequests = stats.LiveRequests,
        KvBlocksUsed = stats.KvBlocksUsed,
        KvBlocksTotal = stats.KvBlocksTotal,
        KvBlocksCached = stats.KvBlocksCached,
        PrefixCacheHitTokens = stats.PrefixCacheHitTokens,
        PrefixCacheQueryTokens = stats.PrefixCacheQueryTokens,
        Preemptions = stats.Preemptions,
        Steps = stats.Steps,
        GeneratedTokens = stats.GeneratedTokens,
        PromptTokensComputed = stats.PromptTokensComputed,
        PlanMicros = stats.PlanMicros,
        ForwardMicros = stats.ForwardMicros,
        SampleMicros = stats.SampleMicros,
        Draining = draining,
    }, stats.Gpu);

    public static EngineStats FromProto(Proto.LoadReport report) => new()
    {
        WaitingInteractive = report.WaitingInteractive,
        WaitingStandard = report.WaitingStandard,
        WaitingBatch = report.WaitingBatch,
        Running = report.Running,
        LiveRequests = report.LiveRequests,
        KvBlocksUsed = report.KvBlocksUsed,
        KvBlocksTotal = report.KvBlocksTotal,
        KvBlocksCached = report.KvBlocksCached,
        PrefixCacheHitTokens = report.PrefixCacheHitTokens,
        PrefixCacheQueryTokens = report.PrefixCacheQueryTokens,
        Preemptions = report.Preemptions,
        Steps = report.Steps,
        GeneratedTokens = report.GeneratedTokens,
        PromptTokensComputed = report.PromptTokensComputed,
        PlanMicros = report.PlanMicros,
        ForwardMicros = report.ForwardMicros,
        SampleMicros = report.SampleMicros,
        Gpu = Gpu.GpuProtoMapping.FromProto(report),
    };

    private static Proto.Token ToProto(ServedToken t) => new()
    {
        Id = t.TokenId,
        Text = t.Text,
        Bytes = ByteString.CopyFrom(t.Bytes),
        Logprob = t.Logprob,
    };

    private static ServedToken FromProto(Proto.Token t) => new(t.Id, t.Text, t.Bytes.ToByteArray(), t.Logprob);
}

using System.Runtime.InteropServices;

namespace Inference.Worker.Constraints;

/// <summary>
/// A context-free grammar over Unicode code points, compiled to flat elements as llama.cpp lays them out: each
/// alternative of a rule is a run of character-class and rule-reference elements ended by an end element.
/// Immutable and thread-safe; <see cref="GrammarMatcher"/> walks it with a set of stacks. Nested groups and
/// repetitions become helper rules; a left-recursive rule, an undefined reference or a grammar past the size
/// limits is refused at compile time.
/// </summary>
public sealed partial class Grammar
{
    /// <summary>The most elements a compiled grammar may have (a bound on compile time and memory).</summary>
    public const int MaxElements = 250_000;

    internal const int End = 0;
    internal const int Ref = 1;
    internal const int Char = 2;

    private Grammar(int[] kinds, int[] args, int[][] classes, int[][] alternatives, int root, string[] ruleNames)
    {
        Kinds = kinds;
        Args = args;
        Classes = classes;
        Alternatives = alternatives;
        Root = root;
        RuleNames = ruleNames;
    }

    internal int[] Kinds { get; }

    /// <summary>For a reference: the rule id; for a character class: its index in <see cref="Classes"/>.</summary>
    internal int[] Args { get; }

    internal int[][] Classes { get; }

    /// <summary>Per rule, the start position of each alternative.</summary>
    internal int[][] Alternatives { get; }

    internal int Root { get; }

    internal string[] RuleNames { get; }

    /// <summary>The number of flat elements (the size the limits apply to).</summary>
    public int ElementCount => Kinds.Length;

    /// <summary>Compiles GBNF text whose start rule is <c>root</c>; throws <see cref="GrammarException"/> naming the problem.</summary>
    public static Grammar Parse(string gbnf) => Compile(GbnfParser.Parse(gbnf));

    internal static Grammar Compile(List<KeyValuePair<string, GrammarNode>> rules)
    {
        var lowering = new Lowering();
        foreach ((string name, _) in rules)
        {
            lowering.Declare(name);
        }

        if (!lowering.Has("root"))
        {
            throw new GrammarException("the grammar has no 'root' rule");
        }

        foreach ((string name, GrammarNode body) in rules)
        {
            lowering.Define(lowering.Id(name), body);
        }

        return lowering.Build();
    }

    private sealed class Lowering
    {
        private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
        private readonly List<string> _names = [];
        private readonly List<List<List<(int Kind, int Arg)>>> _rules = [];
        private readonly List<int[]> _classes = [];
        private readonly Dictionary<string, int> _classIndex = new(StringComparer.Ordinal);
        private readonly Dictionary<GrammarNode, int> _helpers = new(ReferenceEqualityComparer.Instance);
        private int _elements;

        public void Declare(string name)
        {
            _ids[name] = _names.Count;
            _names.Add(name);
            _rules.Add([]);
        }

        public bool Has(string name) => _ids.ContainsKey(name);

        public int Id(string name) => _ids[name];

        public void Define(int rule, GrammarNode body)
        {
            IReadOnlyList<GrammarNode> options = body is GrammarNode.Alternatives alt ? alt.Options : [body];
            foreach (GrammarNode option in options)
            {
                var run = new List<(int, int)>();
                Emit(option, run);
                Add(rule, run);
            }
        }

        public Grammar Build()
        {
            int count = 0;
            foreach (List<List<(int, int)>> alts in _rules)
            {
                foreach (List<(int, int)> run in alts)
                {
                    count += run.Count + 1;
                }
            }

            var kinds = new int[count];
            var args = new int[count];
            var alternatives = new int[_rules.Count][];
            int pos = 0;
            for (int r = 0; r < _rules.Count; r++)
            {
                List<List<(int Kind, int Arg)>> alts = _rules[r];
                alternatives[r] = new int[alts.Count];
                for (int a = 0; a < alts.Count; a++)
                {
                    alternatives[r][a] = pos;
                    foreach ((int kind, int arg) in alts[a])
                    {
                        kinds[pos] = kind;
                        args[pos++] = arg;
                    }

                    kinds[pos++] = End;
                }
            }

            var grammar = new Grammar(kinds, args, [.. _classes], alternatives, _ids["root"], [.. _names]);
            CheckLeftRecursion(grammar);
            return grammar;
        }

        private void Add(int rule, List<(int, int)> run)
        {
            _elements += run.Count + 1;
            if (_elements > MaxElements)
            {
                throw new GrammarException($"the grammar is too large: more than {MaxElements:N0} elements after expanding repetitions");
            }

            _rules[rule].Add(run);
        }

        private void Emit(GrammarNode node, List<(int, int)> run)
        {
            switch (node)
            {
                case GrammarNode.Sequence seq:
                    foreach (GrammarNode item in seq.Items)
                    {
                        Emit(item, run);
                    }

                    break;
                case GrammarNode.Chars chars:
                    run.Add((Char, ClassIndex(chars.Ranges)));
                    break;
                case GrammarNode.Reference reference:
                    if (!_ids.TryGetValue(reference.Name, out int id))
                    {
                        throw new GrammarException($"rule '{reference.Name}' is referenced but not defined");
                    }

                    run.Add((Ref, id));
                    break;
                case GrammarNode.Alternatives:
                    run.Add((Ref, Helper(node, "alt", r => Define(r, node))));
                    break;
                case GrammarNode.Repeat repeat:
                    EmitRepeat(repeat, run);
                    break;
            }
        }

        private void EmitRepeat(GrammarNode.Repeat repeat, List<(int, int)> run)
        {
            (int, int) item = Single(repeat.Item);
            for (int i = 0; i < repeat.Min; i++)
            {
                run.Add(item);
                if (run.Count > MaxElements)
                {
                    throw new GrammarException($"the grammar is too large: more than {MaxElements:N0} elements after expanding repetitions");
                }
            }

            if (repeat.Max == -1)
            {
                // star ::= item star | (empty); the self reference is a tail call, so the stack does not grow.
                int star = NewRule("star");
                Add(star, [item, (Ref, star)]);
                Add(star, []);
                run.Add((Ref, star));
                return;
            }

            // opt_k ::= item opt_(k-1) | (empty), opt_1 ::= item | (empty).
            int previous = -1;
            for (int k = 1; k <= repeat.Max - repeat.Min; k++)
            {
                int opt = NewRule("opt");
                Add(opt, previous < 0 ? [item] : [item, (Ref, previous)]);
                Add(opt, []);
                previous = opt;
            }

            if (previous >= 0)
            {
                run.Add((Ref, previous));
            }
        }

        // An item as one element: a character class or a reference (to a helper rule for anything bigger).
        private (int, int) Single(GrammarNode node) => node switch
        {
            GrammarNode.Chars chars => (Char, ClassIndex(chars.Ranges)),
            GrammarNode.Reference reference => (Ref, _ids.TryGetValue(reference.Name, out int id)
                ? id
                : throw new GrammarException($"rule '{reference.Name}' is referenced but not defined")),
            _ => (Ref, Helper(node, "group", r => Define(r, node))),
        };

        private int Helper(GrammarNode node, string kind, Action<int> define)
        {
            if (_helpers.TryGetValue(node, out int id))
            {
                return id;
            }

            id = NewRule(kind);
            _helpers[node] = id;
            define(id);
            return id;
        }

        private int NewRule(string kind)
        {
            string name = $"{kind}-{_names.Count}";
            Declare(name);
            return _ids[name];
        }

        private int ClassIndex(int[] ranges)
        {
            string key = string.Join(',', ranges);
            ref int index = ref CollectionsMarshal.GetValueRefOrAddDefault(_classIndex, key, out bool exists);
            if (!exists)
            {
                index = _classes.Count;
                _classes.Add(ranges);
            }

            return index;
        }
    }

    // A rule that can reach itself without consuming a character would make the matcher expand forever.
    private static void CheckLeftRecursion(Grammar g)
    {
        int rules = g.Alternatives.Length;
        var nullable = new bool[rules];
        bool changed = true;
        while (changed)
        {
            changed = false;
            for (int r = 0; r < rules; r++)
            {
                if (nullable[r])
                {
                    continue;
                }

                foreach (int start in g.Alternatives[r])
                {
                    int p = start;
                    while (g.Kinds[p] == Ref && nullable[g.Args[p]])
                    {
                        p++;
                    }

                    if (g.Kinds[p] == End)
                    {
                        nullable[r] = changed = true;
                        break;
                    }
                }
            }
        }

        // state: 0 unvisited, 1 on the path, 2 done.
        var state = new byte[rules];
        var path = new Stack<(int Rule, IEnumerator<int> Next)>();
        for (int r = 0; r < rules; r++)
        {
            if (state[r] != 0)
            {
                continue;
            }

            state[r] = 1;
            path.Push((r, LeftReferences(g, r, nullable).GetEnumerator()));
            while (path.Count > 0)
            {
                (int rule, IEnumerator<int> next) = path.Peek();
                if (!next.MoveNext())
                {
                    state[rule] = 2;
                    path.Pop();
                    continue;
                }

                int target = next.Current;
                if (state[target] == 1)
                {
                    throw new GrammarException($"rule '{g.RuleNames[target]}' is left-recursive (it can reach itself before matching any character)");
                }

                if (state[target] == 0)
                {
                    state[target] = 1;
                    path.Push((target, LeftReferences(g, target, nullable).GetEnumerator()));
                }
            }
        }
    }

    private static IEnumerable<int> LeftReferences(Grammar g, int rule, bool[] nullable)
    {
        foreach (int start in g.Alternatives[rule])
        {
            for (int p = start; g.Kinds[p] == Ref; p++)
            {
                yield return g.Args[p];
                if (!nullable[g.Args[p]])
                {
                    break;
                }
            }
        }
    }
}

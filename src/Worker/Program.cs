using System.Reflection;
using TorchSharp;
var t = typeof(torch).Assembly.GetTypes().Where(t=>t.Name.Contains("DisposeScopeManager")||t.Name.Contains("Statistics"));
foreach (var x in t) { Console.WriteLine(x.FullName); foreach (var p in x.GetProperties(BindingFlags.Public|BindingFlags.Static|BindingFlags.Instance)) Console.WriteLine("  "+p.Name+" "+p.PropertyType.Name); }
foreach(var m in typeof(torch.nn.functional).GetMethods().Where(m=>m.Name=="linear"||m.Name=="embedding")) Console.WriteLine(m);
foreach(var m in typeof(torch.Tensor).GetMethods().Where(m=>m.Name=="roll"||m.Name=="split"||m.Name=="topk"||m.Name=="sort"||m.Name=="scatter_add_")) Console.WriteLine(m);

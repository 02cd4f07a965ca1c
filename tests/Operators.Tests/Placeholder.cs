namespace Inference.Operators.Tests;

"""Wrong solutions for day2/modules.py, each a mistake students really make."""

from torch import nn

from graders.testing import mutant


@mutant("day2.modules.MLP", expect=r"plain Python list")
class MLPUnregisteredLayers(nn.Module):
    def __init__(self, in_features, hidden_sizes, out_features, dropout=0.0):
        super().__init__()
        if not 0 <= dropout < 1:
            raise ValueError("dropout")
        self.layers, width = [], in_features
        for h in hidden_sizes:
            self.layers += [nn.Linear(width, h), nn.ReLU()]
            if dropout:
                self.layers.append(nn.Dropout(dropout))
            width = h
        self.layers.append(nn.Linear(width, out_features))

    def forward(self, x):
        x = x.flatten(1)
        for layer in self.layers:
            x = layer(x)
        return x


@mutant("day2.modules.MLP", expect=r"Nothing comes after the last Linear")
class MLPReluAtTheEnd(nn.Module):
    def __init__(self, in_features, hidden_sizes, out_features, dropout=0.0):
        super().__init__()
        if not 0 <= dropout < 1:
            raise ValueError("dropout")
        layers, width = [], in_features
        for h in list(hidden_sizes) + [out_features]:
            layers += [nn.Linear(width, h), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = h
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x.flatten(1))


@mutant("day2.modules.MLP", expect=r"flatten|shape")
class MLPNoFlatten(nn.Module):
    def __init__(self, in_features, hidden_sizes, out_features, dropout=0.0):
        super().__init__()
        if not 0 <= dropout < 1:
            raise ValueError("dropout")
        layers, width = [], in_features
        for h in hidden_sizes:
            layers += [nn.Linear(width, h), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, out_features))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


@mutant("day2.modules.count_parameters", expect=r"frozen|trainable_only")
def count_ignores_flag(model, trainable_only=True):
    return sum(p.numel() for p in model.parameters())


@mutant("day2.modules.count_parameters", expect=r"nested")
def count_per_module(model, trainable_only=True):
    return sum(p.numel() for m in model.modules() for p in m.parameters()
               if p.requires_grad or not trainable_only)


@mutant("day2.modules.count_parameters", expect=r"BatchNorm|tied")
def count_state_dict(model, trainable_only=True):
    return sum(v.numel() for v in model.state_dict().values())



"""Cross-city transfer of discharge rights (排污权跨地市交易) around a project-demand list
(项目需求库): a buyer posts a need, a seller offers, both cities' bureaus approve."""
